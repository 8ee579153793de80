// Command demo is `make demo`: it starts a real distribution registry in
// process, seeds sample images, installs the locally built provider from a
// filesystem mirror, and runs `terraform init` and `terraform apply` on
// examples/demo, printing what the data sources see.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/devprovider"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()

	reg, err := testregistry.New(ctx)
	if err != nil {
		return err
	}
	defer reg.Close()
	step("Started a distribution v3 registry at %s (storage %s)", reg.URL, reg.RootDir)

	if err := seed(reg); err != nil {
		return fmt.Errorf("seeding: %w", err)
	}

	work, err := os.MkdirTemp("", "registry-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	tf, err := newTerraform(work)
	if err != nil {
		return err
	}
	step("terraform init (provider installed from a local mirror)")
	if err := tf.run(ctx, "init", "-input=false", "-no-color"); err != nil {
		return err
	}
	step("terraform apply")
	return tf.run(ctx, "apply", "-auto-approve", "-input=false", "-no-color", "-var", "registry_url="+reg.URL)
}

// seed pushes the sample images: versions pushed out of order, latest
// sharing a digest with the newest release, a signature, a multi-arch index.
func seed(reg *testregistry.Registry) error {
	day := 24 * time.Hour
	start := time.Now().Add(-30 * day).Truncate(time.Hour)
	releases := []struct {
		tag  string
		age  time.Duration
		more []string
	}{
		{"v1.2.0", 20 * day, nil},
		{"v1.0.0", 28 * day, nil},
		{"v1.10.0", 2 * day, []string{"latest", "stable"}},
		{"v1.9.0", 6 * day, nil},
		{"pr-41", 3 * day, nil},
		{"pr-42", 1 * day, nil},
	}
	for _, r := range releases {
		img, err := reg.PushImage("demo/app", start.Add(30*day-r.age), append([]string{r.tag}, r.more...)...)
		if err != nil {
			return err
		}
		if r.tag == "v1.10.0" {
			if _, err := reg.PushReferrer("demo/app", img.Digest, "sig"); err != nil {
				return err
			}
		}
	}
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}}
	if _, _, err := reg.PushIndex("demo/multi", platforms, start, "latest", "2.0"); err != nil {
		return err
	}
	step("Seeded demo/app (6 releases, latest = stable = v1.10.0, one signature) and demo/multi (amd64 + arm64 index)")
	return nil
}

type terraform struct {
	bin, dir, cliConfig string
}

func newTerraform(work string) (*terraform, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	mirror, err := devprovider.BuildMirror(root)
	if err != nil {
		return nil, err
	}
	cliConfig := filepath.Join(work, "demo.tfrc")
	if err := devprovider.WriteCLIConfig(cliConfig, mirror); err != nil {
		return nil, err
	}
	config, err := os.ReadFile(filepath.Join(root, "examples", "demo", "main.tf"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(work, "main.tf"), config, 0o600); err != nil {
		return nil, err
	}
	return &terraform{bin: filepath.Join(root, "bin", "terraform"), dir: work, cliConfig: cliConfig}, nil
}

func (t *terraform) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, t.bin, args...)
	cmd.Dir = t.dir
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+t.cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("terraform %s: %w", args[0], err)
	}
	return nil
}

// moduleRoot is where go.mod is: `go run` starts in the caller's directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("locating go.mod: %w", err)
	}
	return filepath.Dir(string(out[:len(out)-1])), nil
}

func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}
