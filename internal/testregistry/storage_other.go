//go:build !linux

package testregistry

// storageBase uses the default temporary directory; see storage_linux.go.
func storageBase() string { return "" }
