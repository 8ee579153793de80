package testregistry

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ReferenceGC is distribution v3's own `registry garbage-collect`, the
// behaviour internal/gc must match. `make test` installs the binary into
// bin/ with go install, at the version of the distribution library.
type ReferenceGC struct {
	Bin string
}

// FindReferenceGC locates the registry binary ($REGISTRY_GC_BIN, bin/registry
// at the repository root, then PATH). Tests skip without it unless
// REGISTRY_GC_REQUIRED=1, as `make test` sets.
func FindReferenceGC(t testing.TB) ReferenceGC {
	t.Helper()
	bin, err := findTool("registry", "REGISTRY_GC_BIN")
	if err != nil {
		SkipUnlessRequired(t, "REGISTRY_GC_REQUIRED", fmt.Errorf("reference GC: %w (make test installs it)", err))
	}
	return ReferenceGC{Bin: bin}
}

// Run collects garbage on the storage described by storageYAML, the
// `storage:` section of a config.yml (driver and parameters).
func (g ReferenceGC) Run(ctx context.Context, storageYAML string, deleteUntagged bool) error {
	_, err := g.RunMeasured(ctx, storageYAML, deleteUntagged)
	return err
}

// NewReferenceGC is FindReferenceGC outside of tests (benchmarks): it
// locates the registry binary the same way and returns an error instead
// of skipping.
func NewReferenceGC() (ReferenceGC, error) {
	bin, err := findTool("registry", "REGISTRY_GC_BIN")
	return ReferenceGC{Bin: bin}, err
}

// RunMeasured is Run, also returning the finished child's state so that a
// benchmark can read its resource usage (SysUsage: max RSS).
func (g ReferenceGC) RunMeasured(ctx context.Context, storageYAML string, deleteUntagged bool) (*os.ProcessState, error) {
	dir, err := os.MkdirTemp("", "reference-gc-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	config := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(config, []byte("version: 0.1\n"+storageYAML), 0o600); err != nil {
		return nil, err
	}
	args := []string{"garbage-collect", "--quiet"}
	if deleteUntagged {
		args = append(args, "--delete-untagged")
	}
	cmd := exec.CommandContext(ctx, g.Bin, append(args, config)...)
	// REGISTRY_* variables would override the configuration file.
	cmd.Env = environWithout("REGISTRY_")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("registry garbage-collect: %w\n%s", err, out.Bytes())
	}
	return cmd.ProcessState, nil
}

// FilesystemStorageYAML is the storage section for a filesystem root.
func FilesystemStorageYAML(root string) string {
	return fmt.Sprintf("storage:\n  filesystem:\n    rootdirectory: %q\n", root)
}

// findTool is toolPath for tools without a sentinel error of their own.
func findTool(name, env string) (string, error) {
	return toolPath(name, env, fmt.Errorf("%s not found in $%s, bin/ or PATH", name, env))
}
