// Command demo is `make demo`: it starts a real distribution registry in
// process, seeds sample images, installs the locally built provider from a
// filesystem mirror, and runs `terraform init` and `terraform apply` on
// examples/demo, printing what the data sources see, then garbage
// collection (examples/demo/gc) over the registry's storage.
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

	first, err := testregistry.New(ctx)
	if err != nil {
		return err
	}
	defer first.Close()
	second, err := testregistry.NewV28(ctx)
	if err != nil {
		return fmt.Errorf("starting distribution 2.8 (make demo installs Debian's docker-registry): %w", err)
	}
	defer second.Close()
	step("Started distribution v3 at %s and distribution 2.8 at %s", first.URL, second.URL)

	if err := seed(first); err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	for _, reg := range []*testregistry.Registry{first, second} {
		if err := seedWeb(reg); err != nil {
			return fmt.Errorf("seeding: %w", err)
		}
	}

	root, err := devprovider.ModuleRoot()
	if err != nil {
		return err
	}
	step("terraform init (provider installed from a local mirror)")
	tf, err := initWorkspace(ctx, filepath.Join(root, "examples", "demo"))
	if err != nil {
		return err
	}
	defer tf.Close()
	vars := []string{"-var", "registry_url=" + first.URL, "-var", "second_registry_url=" + second.URL}
	step("terraform plan: the preview of every deletion, with its reason")
	if err := tf.Run(ctx, os.Stdout, append([]string{"plan", "-input=false", "-no-color", "-out=demo.tfplan"}, vars...)...); err != nil {
		return err
	}
	step("terraform apply of that saved plan")
	if err := tf.Run(ctx, os.Stdout, "apply", "-input=false", "-no-color", "demo.tfplan"); err != nil {
		return err
	}
	step("terraform plan again: nothing left to delete")
	if err := tf.Run(ctx, os.Stdout, append([]string{"plan", "-input=false", "-no-color"}, vars...)...); err != nil {
		return err
	}
	return collectGarbage(ctx, first, filepath.Join(root, "examples", "demo", "gc"))
}

// collectGarbage applies the GC configuration in dir to reg's storage,
// served read-only as garbage collection requires. (A registry would be
// restarted in read-only mode; the demo serves the same storage read-only
// beside it.)
func collectGarbage(ctx context.Context, reg *testregistry.Registry, dir string) error {
	readOnly, err := testregistry.New(ctx, testregistry.WithRootDir(reg.RootDir), testregistry.WithReadOnly())
	if err != nil {
		return err
	}
	defer readOnly.Close()
	step("Garbage collection: the deletions freed no disk yet; with the storage served read-only at %s, a dry run, then the sweep", readOnly.URL)
	tf, err := initWorkspace(ctx, dir)
	if err != nil {
		return err
	}
	defer tf.Close()
	return tf.Run(ctx, os.Stdout, "apply", "-input=false", "-no-color", "-auto-approve",
		"-var", "registry_url="+readOnly.URL, "-var", "storage_root="+reg.RootDir)
}

// initWorkspace copies the configuration in dir into a new workspace and
// runs terraform init there.
func initWorkspace(ctx context.Context, dir string) (*devprovider.Workspace, error) {
	config, err := devprovider.ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	tf, err := devprovider.NewWorkspace(config)
	if err != nil {
		return nil, err
	}
	if err := tf.Run(ctx, os.Stdout, "init", "-input=false", "-no-color"); err != nil {
		tf.Close()
		return nil, err
	}
	return tf, nil
}

// seedWeb pushes the same demo/web history to a registry: releases out of
// order, pull-request previews, latest on the newest release.
func seedWeb(reg *testregistry.Registry) error {
	for _, tags := range [][]string{{"v2.1.0"}, {"v1.0.0"}, {"v2.0.0"}, {"v2.2.0", "latest"}, {"v1.5.0"}, {"pr-101"}, {"pr-102"}} {
		if _, err := reg.PushImage("demo/web", time.Time{}, tags...); err != nil {
			return err
		}
	}
	return nil
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
