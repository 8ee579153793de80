package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/distreg/terraform-provider-registry/internal/devprovider"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Several registries from one configuration (the Several registries
// guide's examples, run as they are by the acceptance run's CLI): three
// registries (distribution v3 twice and 2.8) with the same content plan
// the same deletions, converge to the same tags, and the summary output
// has one line per registry with the same counts.

// threeRegistries starts three registries holding the same tags.
func threeRegistries(t *testing.T) []*testregistry.Registry {
	regs := []*testregistry.Registry{startRegistry(t), startRegistry(t), testregistry.StartV28(t)}
	for _, reg := range regs {
		for _, tags := range [][]string{{"v2.1.0"}, {"v1.0.0"}, {"v2.0.0"}, {"v2.2.0", "latest"}, {"v1.5.0"}, {"pr-101"}} {
			mustPush(t, reg, "demo/web", tags...)
		}
	}
	return regs
}

func hostOf(reg *testregistry.Registry) string { return strings.TrimPrefix(reg.URL, "http://") }

// planApplyAcross runs init, plan -out, show -json and apply of the
// example in dir with vars, and checks what the plan and the registries
// show, registry by registry.
func planApplyAcross(t *testing.T, dir string, vars map[string]any, regs []*testregistry.Registry) {
	files, err := devprovider.ReadConfig(filepath.Join("..", "..", "examples", "several-registries", dir))
	if err != nil {
		t.Fatal(err)
	}
	files["terraform.tfvars.json"], _ = json.Marshal(vars)
	ws := newWorkspace(t, files)
	var out strings.Builder
	run := func(args ...string) string {
		out.Reset()
		if err := ws.Run(context.Background(), &out, args...); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return out.String()
	}
	run("init", "-input=false")
	run("plan", "-input=false", "-out=plan.out")
	var plan struct {
		ResourceChanges []struct {
			Address string
			Change  struct {
				After struct {
					Deletions []struct{ Tags []string }
					Summary   struct{ Registry string }
				}
			}
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(run("show", "-json", "plan.out")), &plan); err != nil {
		t.Fatal(err)
	}
	deleted := map[string][]string{} // registry host -> tags the plan deletes
	for _, rc := range plan.ResourceChanges {
		for _, d := range rc.Change.After.Deletions {
			deleted[rc.Change.After.Summary.Registry] = append(deleted[rc.Change.After.Summary.Registry], d.Tags...)
		}
	}
	want := []string{"pr-101", "v1.0.0", "v1.5.0"}
	for _, reg := range regs {
		got := deleted[hostOf(reg)]
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("the plan deletes %q from %s; want %q on each registry (plan: %+v)", got, hostOf(reg), want, plan.ResourceChanges)
		}
	}
	run("apply", "-input=false", "plan.out")
	var summary map[string]struct{ Tags, Manifests int }
	if err := json.Unmarshal([]byte(run("output", "-json", "summary")), &summary); err != nil {
		t.Fatal(err)
	}
	for _, reg := range regs {
		if s, ok := summary[hostOf(reg)]; !ok || s.Tags != 3 || s.Manifests != 3 {
			t.Errorf("summary of %s = %+v (found %v); want 3 tags and 3 manifests (all: %+v)", hostOf(reg), s, ok, summary)
		}
		if err := expectRegistryTags(reg, "demo/web", "latest", "v2.0.0", "v2.1.0", "v2.2.0")(nil); err != nil {
			t.Errorf("%s: %v", hostOf(reg), err)
		}
	}
	run("plan", "-input=false", "-detailed-exitcode") // exit code 2 would be a change: idempotent
}

// Terraform's way (OpenTofu's too): an alias per registry, a module
// instance per alias.
func TestAccSeveralRegistries_modulePerAlias(t *testing.T) {
	regs := threeRegistries(t)
	planApplyAcross(t, "terraform", map[string]any{"primary_url": regs[0].URL, "eu_url": regs[1].URL, "us_url": regs[2].URL}, regs)
}

// OpenTofu 1.9 and later: provider for_each over a map of registries.
func TestAccSeveralRegistries_openTofuProviderForEach(t *testing.T) {
	requireAcceptance(t)
	cli, err := acceptanceCLI()
	if err != nil {
		t.Fatal(err)
	}
	if cli.name != "OpenTofu" || cli.version.LessThan(semver.MustParse("1.9.0")) {
		if os.Getenv("TF_PROVIDER_FOR_EACH_REQUIRED") != "" { // make testacc-tofu-1.12: never skipped there
			t.Fatalf("TF_PROVIDER_FOR_EACH_REQUIRED is set, but the CLI is %s", cli)
		}
		t.Skipf("provider for_each needs OpenTofu 1.9 or later; this run's CLI is %s", cli)
	}
	regs := threeRegistries(t)
	urls := map[string]any{}
	for i, reg := range regs {
		urls[fmt.Sprintf("registry-%d", i)] = reg.URL
	}
	planApplyAcross(t, "opentofu", map[string]any{"registries": urls}, regs)
}
