// Package devprovider builds this provider from source and installs it for
// the Terraform and OpenTofu CLIs as a local filesystem mirror, so that
// `init` installs it like a released provider with no network. The
// acceptance tests that need a real provider process, the demo and the
// benchmarks share it.
package devprovider

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Version is the version the locally built provider is mirrored as.
const Version = "0.0.1"

// Source is the provider's address in required_providers.
const Source = "distreg/registry"

// hosts are the registry hosts Terraform and OpenTofu resolve Source under.
var hosts = []string{"registry.terraform.io", "registry.opentofu.org"}

// BuildMirror compiles the provider found at moduleRoot into a new
// filesystem mirror directory and returns that directory.
func BuildMirror(moduleRoot string) (string, error) {
	dir, err := os.MkdirTemp("", "terraform-provider-registry-mirror-")
	if err != nil {
		return "", err
	}
	var built string
	for _, host := range hosts {
		pkg := filepath.Join(dir, host, "distreg", "registry", Version, runtime.GOOS+"_"+runtime.GOARCH)
		if err := os.MkdirAll(pkg, 0o755); err != nil {
			return "", err
		}
		bin := filepath.Join(pkg, "terraform-provider-registry_v"+Version)
		if built != "" {
			if err := os.Link(built, bin); err != nil {
				return "", err
			}
			continue
		}
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = moduleRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("building the provider: %w\n%s", err, out)
		}
		built = bin
	}
	return dir, nil
}

// MirrorArchive makes a new filesystem mirror in the packed layout from a
// release archive (terraform-provider-registry_<version>_<os>_<arch>.zip,
// installed as it is, under its own name) and returns its directory.
func MirrorArchive(archive string) (string, error) {
	content, err := os.ReadFile(archive)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "terraform-provider-registry-mirror-")
	if err != nil {
		return "", err
	}
	for _, host := range hosts {
		pkg := filepath.Join(dir, host, "distreg", "registry")
		if err := os.MkdirAll(pkg, 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(pkg, filepath.Base(archive)), content, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// WriteCLIConfig writes a CLI configuration file at path that installs
// providers only from the mirror.
func WriteCLIConfig(path, mirror string) error {
	config := fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path = %q\n  }\n}\n", mirror)
	return os.WriteFile(path, []byte(config), 0o600)
}
