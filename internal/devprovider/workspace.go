package devprovider

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Workspace is a temporary Terraform working directory holding one
// configuration, with the CLI from bin/ and the provider from a fresh
// mirror. The demo and the benchmarks drive Terraform through it.
type Workspace struct {
	Dir       string
	terraform string
	cliConfig string
}

// NewWorkspace builds the provider and writes config as main.tf in a new
// temporary directory.
func NewWorkspace(config []byte) (*Workspace, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	mirror, err := BuildMirror(root)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "terraform-provider-registry-work-")
	if err != nil {
		return nil, err
	}
	w := &Workspace{Dir: dir, terraform: filepath.Join(root, "bin", "terraform"), cliConfig: filepath.Join(dir, "cli.tfrc")}
	if err := WriteCLIConfig(w.cliConfig, mirror); err != nil {
		return nil, err
	}
	return w, os.WriteFile(filepath.Join(dir, "main.tf"), config, 0o600)
}

// Run runs the Terraform CLI in the workspace, its output going to out.
func (w *Workspace) Run(ctx context.Context, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, w.terraform, args...)
	cmd.Dir = w.Dir
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+w.cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("terraform %s: %w", args[0], err)
	}
	return nil
}

// Close removes the workspace.
func (w *Workspace) Close() error { return os.RemoveAll(w.Dir) }

// ModuleRoot is the directory of this module's go.mod, wherever the
// program was started from.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("locating go.mod: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run this from inside the terraform-provider-registry module")
	}
	return filepath.Dir(gomod), nil
}
