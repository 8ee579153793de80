package provider

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/distreg/terraform-provider-registry/internal/devprovider"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// mustPush pushes one unique image of unknown age under tags.
func mustPush(t *testing.T, reg *testregistry.Registry, repo string, tags ...string) testregistry.Image {
	t.Helper()
	return mustPushAt(t, reg, repo, time.Time{}, tags...)
}

func mustPushAt(t *testing.T, reg *testregistry.Registry, repo string, created time.Time, tags ...string) testregistry.Image {
	t.Helper()
	img, err := reg.PushImage(repo, created, tags...)
	if err != nil {
		t.Fatalf("pushing %s:%v: %v", repo, tags, err)
	}
	return img
}

var (
	mirrorOnce  sync.Once
	mirrorDir   string
	mirrorError error
)

// useBuiltProvider makes the CLI install the compiled provider (built once
// per test binary) from a local mirror, and returns the ExternalProviders
// entry that requires it.
func useBuiltProvider(t *testing.T) map[string]resource.ExternalProvider {
	t.Helper()
	mirrorOnce.Do(func() { mirrorDir, mirrorError = devprovider.BuildMirror(filepath.Join("..", "..")) })
	if mirrorError != nil {
		t.Fatal(mirrorError)
	}
	cliConfig := filepath.Join(t.TempDir(), "mirror.tfrc")
	if err := devprovider.WriteCLIConfig(cliConfig, mirrorDir); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", cliConfig)
	return map[string]resource.ExternalProvider{
		"registry": {Source: devprovider.Source, VersionConstraint: devprovider.Version},
	}
}

// startRegistry starts a real registry for an acceptance test, skipping
// before any seeding work when acceptance tests are not enabled.
func startRegistry(t *testing.T, opts ...testregistry.Option) *testregistry.Registry {
	t.Helper()
	if os.Getenv(resource.EnvTfAcc) == "" {
		t.Skipf("acceptance tests run with %s=1 (make testacc)", resource.EnvTfAcc)
	}
	return testregistry.Start(t, opts...)
}
