//go:build !linux

package testregistry

import "syscall"

// childSysProcAttr: only Linux has Pdeathsig; elsewhere the child is
// stopped by Close and by the cancellation of its context.
func childSysProcAttr() *syscall.SysProcAttr { return nil }
