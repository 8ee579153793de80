// Package release tests the release archives that `make release-snapshot`
// builds into dist/ with goreleaser (.goreleaser.yml): their names for the
// whole platform matrix, the checksums file and the registry manifest, and
// that the archive for this machine's platform installs and serves the
// provider through `terraform init`, as a user's CLI would install it.
package release
