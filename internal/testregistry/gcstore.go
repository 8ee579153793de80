package testregistry

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// NewReferenceGC is FindReferenceGC outside of tests (benchmarks): it
// locates the registry binary the same way and returns an error instead
// of skipping.
func NewReferenceGC() (ReferenceGC, error) {
	bin, err := findTool("registry", "REGISTRY_GC_BIN")
	return ReferenceGC{Bin: bin}, err
}

// RunMeasured is Run, returning the finished child's state so that a
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
	cmd.Env = environWithout("REGISTRY_") // as in Run: they would override the file
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("registry garbage-collect: %w\n%s", err, out.Bytes())
	}
	return cmd.ProcessState, nil
}
