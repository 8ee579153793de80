package provider

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// governedConfig is an organisation's default policy (keep the newest
// one) with exclude, a team's own policy (keep the newest two), and extra
// resources.
func governedConfig(reg *testregistry.Registry, exclude, extra string) string {
	return providerBlock(reg, "") + `
resource "registry_retention_policy" "default" {
  repositories = ["**"]
  ` + exclude + `
  keep {
    newest = 1
    order_by = "name"
  }
  delete {}
}

resource "registry_retention_policy" "team_a" {
  repositories = ["team-a/*"]
  keep {
    newest = 2
    order_by = "name"
  }
  delete {}
}
` + extra
}

// Two policies over one repository would each delete what the other
// keeps: the plan fails naming the repositories and the other policy,
// also when one of them has nothing to plan; exclude_repositories leaves
// a repository to the more specific policy. On both registries.
func TestAccRetentionPolicy_twoPoliciesCannotGovernOneRepository(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		for _, repo := range []string{"team-a/app", "other/app"} {
			for _, tag := range []string{"v1", "v2", "v3"} {
				mustPush(t, reg, repo, tag)
			}
		}
		excluded := `exclude_repositories = ["team-a/**"]`
		accTest(t,
			resource.TestStep{
				Config:      governedConfig(reg, "", ""),
				ExpectError: errorLike(`(?s)Two retention policies govern the same repositories.*both match team-a/app:`),
			},
			resource.TestStep{
				Config: governedConfig(reg, excluded, ""),
				Check: resource.ComposeTestCheckFunc(
					expectRegistryTags(reg, "team-a/app", "v2", "v3"),
					expectRegistryTags(reg, "other/app", "v3"),
				),
			},
			resource.TestStep{ // the default and the team's policy have nothing to plan; a third policy over other/* does
				Config: governedConfig(reg, excluded, `
resource "registry_retention_policy" "other" {
  repositories = ["other/*"]
  delete {}
}`),
				ExpectError: errorLike(`both match other/app`),
			},
			resource.TestStep{
				Config: governedConfig(reg, excluded, ""),
				Check:  expectRegistryTags(reg, "other/app", "v3"),
			},
		)
	})
}

// Policies planned in one run: disjoint ones and identical ones (which
// decide alike) pass; the second of two different policies over one
// repository fails, naming it and the first.
func TestGovernorsClaim(t *testing.T) {
	g := &governors{}
	claim := func(config string, m retentionModel, repos ...string) diag.Diagnostics {
		var diags diag.Diagnostics
		g.claim(context.Background(), nil, tftypes.NewValue(tftypes.String, config), m, repos, &diags)
		return diags
	}
	broad := retentionModel{Repositories: []string{"**"}}
	team := retentionModel{Repositories: []string{"team/*"}}
	if d := claim("a", team, "team/app", "team/web"); d.HasError() {
		t.Fatal(d)
	}
	if d := claim("a", team, "team/app", "team/web"); d.HasError() {
		t.Errorf("the same configuration twice (for_each instances alike): %v", d)
	}
	if d := claim("b", retentionModel{Repositories: []string{"tools/*"}}, "tools/ci"); d.HasError() {
		t.Errorf("disjoint policies: %v", d)
	}
	d := claim("c", broad, "other/app", "team/app", "tools/ci")
	if !d.HasError() {
		t.Fatal("two policies over team/app: no error")
	}
	for _, want := range []string{`(repositories = ["**"])`, `(repositories = ["team/*"])`, `(repositories = ["tools/*"])`, "both match team/app:", "both match tools/ci:"} {
		if !slices.ContainsFunc(d.Errors(), func(e diag.Diagnostic) bool { return strings.Contains(e.Detail(), want) }) {
			t.Errorf("errors %v; want one saying %s", d.Errors(), want)
		}
	}
}
