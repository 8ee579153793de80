// Command demo is `make demo`: it starts a real distribution registry in
// process, seeds sample images, installs the locally built provider from a
// filesystem mirror, and runs `terraform init` and `terraform apply` on
// examples/demo, printing what the data sources see.
package main

import (
	"context"
	"fmt"
	"os"
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

	root, err := devprovider.ModuleRoot()
	if err != nil {
		return err
	}
	config, err := os.ReadFile(filepath.Join(root, "examples", "demo", "main.tf"))
	if err != nil {
		return err
	}
	tf, err := devprovider.NewWorkspace(config)
	if err != nil {
		return err
	}
	defer tf.Close()
	step("terraform init (provider installed from a local mirror)")
	if err := tf.Run(ctx, os.Stdout, "init", "-input=false", "-no-color"); err != nil {
		return err
	}
	step("terraform apply")
	return tf.Run(ctx, os.Stdout, "apply", "-auto-approve", "-input=false", "-no-color", "-var", "registry_url="+reg.URL)
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

func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}
