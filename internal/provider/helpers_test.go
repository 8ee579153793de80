package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

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

// TestMain removes the provider mirror the acceptance tests built, so that
// each run does not leave a provider binary in the temp directory.
func TestMain(m *testing.M) {
	code := m.Run()
	if mirrorDir != "" {
		os.RemoveAll(mirrorDir)
	}
	os.Exit(code)
}

// useBuiltProvider makes the CLI install the compiled provider (built once
// per test binary) from a local mirror, and returns the ExternalProviders
// entry that requires it.
func useBuiltProvider(t *testing.T) map[string]resource.ExternalProvider {
	t.Helper()
	cliConfig := filepath.Join(t.TempDir(), "mirror.tfrc")
	if err := devprovider.WriteCLIConfig(cliConfig, builtMirror(t)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", cliConfig)
	return map[string]resource.ExternalProvider{
		"registry": {Source: devprovider.Source, VersionConstraint: devprovider.Version},
	}
}

// builtMirror is the filesystem mirror of the compiled provider, built once
// per test binary: every test that runs the CLI with the compiled provider
// shares it (a build costs seconds, per test and per CLI round).
func builtMirror(t *testing.T) string {
	t.Helper()
	mirrorOnce.Do(func() { mirrorDir, mirrorError = devprovider.BuildMirror(filepath.Join("..", "..")) })
	if mirrorError != nil {
		t.Fatal(mirrorError)
	}
	return mirrorDir
}

// newWorkspace is a CLI workspace of files with the compiled provider
// (builtMirror), removed when the test ends.
func newWorkspace(t *testing.T, files map[string][]byte) *devprovider.Workspace {
	t.Helper()
	ws, err := devprovider.NewMirrorWorkspace(builtMirror(t), files)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws
}

// startRegistry starts a real registry for an acceptance test, skipping
// before any seeding work when acceptance tests are not enabled.
func startRegistry(t *testing.T, opts ...testregistry.Option) *testregistry.Registry {
	t.Helper()
	requireAcceptance(t)
	return testregistry.Start(t, opts...)
}

// requireAcceptance skips the test unless acceptance tests are enabled.
func requireAcceptance(t *testing.T) {
	t.Helper()
	if os.Getenv(resource.EnvTfAcc) == "" {
		t.Skipf("acceptance tests run with %s=1 (make testacc)", resource.EnvTfAcc)
	}
}

// envOldestCLIRound is set by the acceptance rounds of the oldest CLIs
// (make testacc, testacc-tofu: Terraform 1.8.5, OpenTofu 1.6.2).
const envOldestCLIRound = "TF_ACC_OLDEST_CLI_ROUND"

// storageScenario skips, in the rounds of the oldest CLIs, a long scenario
// whose outcome lies in the registry's storage (garbage collection with
// and without a grace period, on the filesystem and on S3, and restores
// after it): it asks nothing of the CLI that the shorter tests under every
// CLI do not, and the rounds of the current CLIs run it (make
// testacc-terraform-1.14, testacc-tofu-1.12). These scenarios took 40% of
// a round: without them twice, a cold make test keeps a margin inside its
// 45 minutes (contributing/testing.md).
func storageScenario(t *testing.T) {
	t.Helper()
	requireAcceptance(t)
	if os.Getenv(envOldestCLIRound) != "" {
		t.Skipf("a scenario of the registry's storage, the same under every CLI: the rounds of the current CLIs run it (%s is set)", envOldestCLIRound)
	}
}

// forEachRegistry runs test against every real registry implementation the
// provider supports, so both must end in the same state for the same
// configuration.
func forEachRegistry(t *testing.T, test func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry)) {
	t.Run("distribution-v3", func(t *testing.T) {
		test(t, func(opts ...testregistry.Option) *testregistry.Registry { return startRegistry(t, opts...) })
	})
	t.Run("distribution-2.8", func(t *testing.T) {
		test(t, func(opts ...testregistry.Option) *testregistry.Registry {
			requireAcceptance(t)
			return testregistry.StartV28(t, opts...)
		})
	})
}

// expectRegistryTags checks the registry itself, not Terraform state.
func expectRegistryTags(reg *testregistry.Registry, repo string, want ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := reg.Tags(repo)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) && (len(got) > 0 || len(want) > 0) {
			return fmt.Errorf("registry tags of %s = %v, want %v", repo, got, want)
		}
		return nil
	}
}

// expectManifests checks with HEAD requests whether each digest exists.
func expectManifests(reg *testregistry.Registry, repo string, exists bool, digests ...v1.Hash) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, d := range digests {
			found, err := reg.ManifestExists(repo, d)
			if err != nil {
				return err
			}
			if found != exists {
				return fmt.Errorf("manifest %s in %s: exists=%v, want %v", d, repo, found, exists)
			}
		}
		return nil
	}
}

// betweenPlanAndApply runs f after the plan is saved and before it is
// applied: terraform-plugin-testing applies the saved plan file, so this
// is how a test changes the registry behind a reviewed plan.
type betweenPlanAndApply func()

func (f betweenPlanAndApply) CheckPlan(context.Context, plancheck.CheckPlanRequest, *plancheck.CheckPlanResponse) {
	f()
}

// deferred builds a check only when it runs, for values that a PreConfig
// sets after the step was declared.
func deferred(build func() resource.TestCheckFunc) resource.TestCheckFunc {
	return func(s *terraform.State) error { return build()(s) }
}

// errorLike compiles an expected-error pattern in which each space matches
// any run of white space, since Terraform wraps diagnostics to the terminal.
func errorLike(pattern string) *regexp.Regexp {
	return regexp.MustCompile(strings.ReplaceAll(pattern, " ", `\s+`))
}

// namesKnownOnlyAtApply gives names whose values Terraform learns only by
// applying: terraform_data.names.output.repository and .kept.
const namesKnownOnlyAtApply = `
resource "terraform_data" "names" {
  input = { repository = "app", kept = "kept" }
}
`

// thenEmptyPlan is the idempotence step: after an apply, nothing is left.
func thenEmptyPlan(config string) resource.TestStep {
	return resource.TestStep{
		Config:           config,
		ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
	}
}
