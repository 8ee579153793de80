package provider

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/distreg/terraform-provider-registry/internal/devprovider"
)

// Some of what users see exists only in the CLI's own output (a rendered
// plan, an action's progress, warnings as printed), or comes from commands
// terraform-plugin-testing does not run (apply -invoke, -refresh-only, a
// Ctrl-C). Those tests run the acceptance run's CLI (TF_ACC_TERRAFORM_PATH)
// themselves in a cliWorkspace, with the provider served in this process
// through TF_REATTACH_PROVIDERS and required under the source address users
// write, which each CLI resolves on its own registry host.

// testCLI is the acceptance run's CLI, as its `version` names it.
type testCLI struct {
	path    string
	name    string // Terraform or OpenTofu
	version *semver.Version
}

func (c testCLI) String() string { return c.name + " v" + c.version.String() }

// supportsActions: actions came with Terraform 1.14; OpenTofu has none.
func (c testCLI) supportsActions() bool {
	return c.name == "Terraform" && !c.version.LessThan(semver.MustParse("1.14.0-0"))
}

var cliVersionLine = regexp.MustCompile(`(?m)^(Terraform|OpenTofu) v(\S+)`)

// acceptanceCLI is found once per test binary, as terraform-plugin-testing
// finds it: TF_ACC_TERRAFORM_PATH, else terraform on PATH.
var acceptanceCLI = sync.OnceValues(func() (testCLI, error) {
	path := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if path == "" {
		var err error
		if path, err = exec.LookPath("terraform"); err != nil {
			return testCLI{}, fmt.Errorf("no CLI: set TF_ACC_TERRAFORM_PATH (make testacc does): %w", err)
		}
	}
	out, err := exec.Command(path, "version").Output()
	if err != nil {
		return testCLI{}, fmt.Errorf("%s version: %w", path, err)
	}
	m := cliVersionLine.FindSubmatch(out)
	if m == nil {
		return testCLI{}, fmt.Errorf("%s version printed %q: neither Terraform nor OpenTofu", path, out)
	}
	version, err := semver.NewVersion(string(m[2]))
	if err != nil {
		return testCLI{}, fmt.Errorf("%s version: %w", path, err)
	}
	return testCLI{path: path, name: string(m[1]), version: version}, nil
})

// cliWorkspace is a working directory of one configuration, initialized.
type cliWorkspace struct {
	t   *testing.T
	cli testCLI
	dir string
	env []string
}

// newCLIWorkspace serves server (newProviderServer when nil) to the
// acceptance run's CLI and runs init on config.
func newCLIWorkspace(t *testing.T, server func() tfprotov6.ProviderServer, config string) *cliWorkspace {
	t.Helper()
	requireAcceptance(t)
	testAccPreCheck(t)
	cli, err := acceptanceCLI()
	if err != nil {
		t.Fatal(err)
	}
	if server == nil {
		server = newProviderServer(t)
	}
	// The provider runs here, so it reads this process's environment.
	t.Setenv("REGISTRY_CACHE_DIR", t.TempDir())
	reattach, stop, err := devprovider.Serve(context.Background(), server, tf6server.WithLoggingSink(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	dir := t.TempDir()
	cliConfig := filepath.Join(dir, ".terraformrc") // empty: nothing of the machine's own
	if err := os.WriteFile(cliConfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w := &cliWorkspace{t: t, cli: cli, dir: dir, env: []string{
		"TF_CLI_CONFIG_FILE=" + cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_REATTACH_PROVIDERS=" + reattach,
	}}
	w.writeConfig(config)
	w.mustRun("init", "-input=false", "-no-color")
	return w
}

// newProviderServer is this provider as the acceptance tests serve it,
// made here, in the test's goroutine, and handed to Serve's.
func newProviderServer(t *testing.T) func() tfprotov6.ProviderServer {
	t.Helper()
	server, err := protoV6Providers["registry"]()
	if err != nil {
		t.Fatal(err)
	}
	return func() tfprotov6.ProviderServer { return server }
}

// writeConfig writes config as main.tf, after the required_providers
// block users write.
func (w *cliWorkspace) writeConfig(config string) {
	w.t.Helper()
	header := fmt.Sprintf("terraform {\n  required_providers {\n    registry = { source = %q }\n  }\n}\n", devprovider.Source)
	if err := os.WriteFile(filepath.Join(w.dir, "main.tf"), []byte(header+config), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// command is the CLI with args in the workspace, its output combined in
// a buffer a test may read while the CLI runs.
func (w *cliWorkspace) command(args ...string) (*exec.Cmd, *syncBuffer) {
	cmd := exec.Command(w.cli.path, args...)
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), w.env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
}

// syncBuffer is a bytes.Buffer the test reads while the CLI writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// run runs the CLI and returns its output, and its error (an
// *exec.ExitError for a non-zero exit).
func (w *cliWorkspace) run(args ...string) (string, error) {
	cmd, out := w.command(args...)
	err := cmd.Run()
	w.t.Logf("%s %v:\n%s", w.cli, args, out)
	return out.String(), err
}

// mustRun runs the CLI and fails the test when it fails.
func (w *cliWorkspace) mustRun(args ...string) string {
	w.t.Helper()
	out, err := w.run(args...)
	if err != nil {
		w.t.Fatalf("%s %v: %v", w.cli, args, err)
	}
	return out
}

// mustFail runs the CLI and fails the test unless it fails.
func (w *cliWorkspace) mustFail(args ...string) string {
	w.t.Helper()
	out, err := w.run(args...)
	if err == nil {
		w.t.Fatalf("%s %v succeeded, want a failure", w.cli, args)
	}
	return out
}
