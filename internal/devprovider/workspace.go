package devprovider

import (
	"context"
	"errors"
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
	Dir string
	// CLI is the Terraform or OpenTofu binary Run runs (cliPath unless
	// changed before the first Run).
	CLI       string
	cliConfig string
	// ownMirror is the mirror NewWorkspace built for this workspace alone,
	// removed with it.
	ownMirror string
	peakRSS   int64
	// Env is added to the CLI's environment, after this process's own.
	Env []string
}

// NewWorkspace builds the provider and writes files (relative path ->
// content) into a new temporary directory.
func NewWorkspace(files map[string][]byte) (*Workspace, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	mirror, err := BuildMirror(root)
	if err != nil {
		return nil, err
	}
	w, err := NewMirrorWorkspace(mirror, files)
	if err != nil {
		os.RemoveAll(mirror)
		return nil, err
	}
	w.ownMirror = mirror
	return w, nil
}

// NewMirrorWorkspace is NewWorkspace with the providers of an existing
// filesystem mirror (a release's archives, say) instead of a fresh build.
func NewMirrorWorkspace(mirror string, files map[string][]byte) (*Workspace, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "terraform-provider-registry-work-")
	if err != nil {
		return nil, err
	}
	w := &Workspace{Dir: dir, CLI: cliPath(root), cliConfig: filepath.Join(dir, "cli.tfrc")}
	if err := WriteCLIConfig(w.cliConfig, mirror); err != nil {
		return nil, err
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, content, 0o600); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// ReadConfig reads every .tf file under dir (modules included) as
// NewWorkspace takes them.
func ReadConfig(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".tf" {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files[rel], err = os.ReadFile(path)
		return err
	})
	return files, err
}

// cliPath is the CLI the acceptance tests use (TF_ACC_TERRAFORM_PATH,
// Terraform or OpenTofu), else bin/terraform.
func cliPath(root string) string {
	if p := os.Getenv("TF_ACC_TERRAFORM_PATH"); p != "" {
		return p
	}
	return filepath.Join(root, "bin", "terraform")
}

// Run runs the Terraform CLI in the workspace, its output going to out.
func (w *Workspace) Run(ctx context.Context, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, w.CLI, args...)
	cmd.Dir = w.Dir
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+w.cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
	cmd.Env = append(cmd.Env, w.Env...)
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	if cmd.ProcessState != nil {
		w.peakRSS = peakRSS(cmd.ProcessState)
	}
	if err != nil {
		return fmt.Errorf("terraform %s: %w", args[0], err)
	}
	return nil
}

// Close removes the workspace, and the mirror NewWorkspace built for it (a
// provider binary of about 70 MB per workspace otherwise left in the temp
// directory). RemoveAll of "" (a workspace with no mirror of its own) does
// nothing.
func (w *Workspace) Close() error {
	return errors.Join(os.RemoveAll(w.ownMirror), os.RemoveAll(w.Dir))
}

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

// PeakRSS is the peak resident memory, in bytes, of the last Run's CLI
// process and the provider processes it waited for.
func (w *Workspace) PeakRSS() int64 { return w.peakRSS }
