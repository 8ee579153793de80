package provider

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

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
	buildOnce   sync.Once
	mirrorDir   string
	buildFailed error
)

// builtProviderVersion is the version the compiled provider is mirrored as.
const builtProviderVersion = "0.0.1"

// useBuiltProvider compiles the provider once per test binary, lays it out
// as a local filesystem mirror for both the Terraform and the OpenTofu
// provider address, and points the CLI at that mirror, so `init` installs
// it like any released provider, with no network.
func useBuiltProvider(t *testing.T) map[string]resource.ExternalProvider {
	t.Helper()
	buildOnce.Do(func() { mirrorDir, buildFailed = buildProviderMirror() })
	if buildFailed != nil {
		t.Fatal(buildFailed)
	}
	cliConfig := filepath.Join(t.TempDir(), "mirror.tfrc")
	mirror := fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path = %q\n  }\n}\n", mirrorDir)
	if err := os.WriteFile(cliConfig, []byte(mirror), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", cliConfig)
	return map[string]resource.ExternalProvider{
		"registry": {Source: "distreg/registry", VersionConstraint: builtProviderVersion},
	}
}

func buildProviderMirror() (string, error) {
	dir, err := os.MkdirTemp("", "tfprovider-registry-mirror-")
	if err != nil {
		return "", err
	}
	target := runtime.GOOS + "_" + runtime.GOARCH
	first := ""
	for _, host := range []string{"registry.terraform.io", "registry.opentofu.org"} {
		pkg := filepath.Join(dir, host, "distreg", "registry", builtProviderVersion, target)
		if err := os.MkdirAll(pkg, 0o755); err != nil {
			return "", err
		}
		bin := filepath.Join(pkg, "terraform-provider-registry_v"+builtProviderVersion)
		if first != "" {
			if err := os.Link(first, bin); err != nil {
				return "", err
			}
			continue
		}
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("building the provider: %v\n%s", err, out)
		}
		first = bin
	}
	return dir, nil
}
