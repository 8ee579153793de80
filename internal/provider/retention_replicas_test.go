package provider

import (
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// replicaBlock writes a replica block for reg.
func replicaConfig(reg *testregistry.Registry) string {
	s := fmt.Sprintf("  replica {\n    url = %q\n", reg.URL)
	if reg.Username != "" {
		s += fmt.Sprintf("    username = %q\n    password = %q\n", reg.Username, reg.Password)
	}
	return s + "  }\n"
}

// A replica follows its primary: the primary (distribution v3) keeps
// stable and the newest two releases; the replica (distribution 2.8)
// lags behind (no v5 yet, stable still on v2's image) and holds an image
// of its own (hotfix). It deletes exactly the primary's v1 and v3, by
// digest, and only removes the v2 tag: stable keeps v2's image there.
// Never the primary's decisions on the replica's own content ("newest
// two" there would keep v3): only what the primary deletes.
func TestAccRetentionPolicy_replicaFollowsItsPrimary(t *testing.T) {
	primary, replica := startRegistry(t), testregistry.StartV28(t)
	images := map[string]v1.Hash{}
	for _, tag := range []string{"v1", "v2", "v3", "v4", "v5"} {
		images[tag] = mustPush(t, primary, "app", tag).Digest
	}
	for _, tag := range []string{"v1", "v2", "v3", "v4"} { // the mirror has not copied v5 yet
		if err := primary.CopyTo(replica, "app", tag); err != nil {
			t.Fatal(err)
		}
	}
	if err := replica.Tag("app", images["v2"], "stable"); err != nil { // nor stable's move to v5
		t.Fatal(err)
	}
	if err := primary.Tag("app", images["v5"], "stable"); err != nil {
		t.Fatal(err)
	}
	hotfix := mustPush(t, replica, "app", "hotfix").Digest // pushed to the replica only
	config := providerBlock(primary, "") + `
resource "registry_retention_policy" "this" {
  repositories = ["app"]
` + replicaConfig(replica) + `
  keep {
    tags = ["stable"]
  }
  keep {
    tag_regex = "^v"
    newest    = 2
    order_by  = "semver"
  }
  delete {}
}
`
	replicaHost := hostOf(replica)
	deletion := func(digest v1.Hash, action string, tags ...string) knownvalue.Check {
		return knownvalue.ObjectPartial(map[string]knownvalue.Check{
			"digest": knownvalue.StringExact(digest.String()), "action": knownvalue.StringExact(action), "tags": listOf(tags...)})
	}
	accTest(t,
		resource.TestStep{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				expectDeletions(3),
				plancheck.ExpectKnownValue(policy, tfjsonpath.New("replica_deletions"), knownvalue.MapExact(map[string]knownvalue.Check{
					replicaHost: knownvalue.SetExact([]knownvalue.Check{
						deletion(images["v1"], "delete_manifest", "v1"),
						deletion(images["v3"], "delete_manifest", "v3"),
						deletion(images["v2"], "untag", "v2"),
					}),
				})),
				plancheck.ExpectKnownValue(policy, tfjsonpath.New("replica_summary"), knownvalue.MapExact(map[string]knownvalue.Check{
					replicaHost: knownvalue.ObjectExact(map[string]knownvalue.Check{
						"tags": knownvalue.Int64Exact(3), "manifests": knownvalue.Int64Exact(2), "bytes": knownvalue.Null(),
					}),
				})),
			}},
			Check: resource.ComposeTestCheckFunc(
				expectRegistryTags(primary, "app", "stable", "v4", "v5"),
				expectManifests(primary, "app", false, images["v1"], images["v2"], images["v3"]),
				expectRegistryTags(replica, "app", "hotfix", "stable", "v4"),
				expectManifests(replica, "app", false, images["v1"], images["v3"]),
				expectManifests(replica, "app", true, images["v2"], images["v4"], hotfix),
			),
		},
		thenEmptyPlan(config),
	)
}

// A policy with a replica planned from its pending deletions (the
// configuration unchanged, the registry grown since the last apply) is
// planned twice, as every resource: for the saved plan, and again when
// Terraform applies it. The replica is read both times; a replica that
// changed in between (here: a tag pushed there onto an image the primary
// deletes) must not end the apply in "Provider produced inconsistent
// final plan". The apply repeats the reviewed plan, checks the replica
// again and skips, with a warning, the deletion whose manifest gained a
// tag there: the manifest stays with both its tags (when in doubt, keep;
// registry_tag_deletion removes v2 there).
func TestAccRetentionPolicy_replicaChangedBetweenPlanAndApply(t *testing.T) {
	primary, replica := startRegistry(t), testregistry.StartV28(t)
	images := map[string]v1.Hash{}
	for _, tag := range []string{"v1", "v2", "v3"} {
		images[tag] = mustPush(t, primary, "app", tag).Digest
		if err := primary.CopyTo(replica, "app", tag); err != nil {
			t.Fatal(err)
		}
	}
	config := providerBlock(primary, "") + `
resource "registry_retention_policy" "this" {
  repositories = ["app"]
` + replicaConfig(replica) + `
  keep {
    newest   = 2
    order_by = "semver"
  }
  delete {}
}
`
	accTest(t,
		resource.TestStep{
			Config: config,
			Check: resource.ComposeTestCheckFunc(
				expectRegistryTags(primary, "app", "v2", "v3"),
				expectRegistryTags(replica, "app", "v2", "v3"),
			),
		},
		resource.TestStep{ // v4 on both: v2 is pending deletion, on the replica too
			PreConfig: func() {
				images["v4"] = mustPush(t, primary, "app", "v4").Digest
				if err := primary.CopyTo(replica, "app", "v4"); err != nil {
					t.Fatal(err)
				}
			},
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue(policy, tfjsonpath.New("replica_deletions"), knownvalue.MapSizeExact(1)),
				betweenPlanAndApply(func() {
					if err := replica.Tag("app", images["v2"], "pinned"); err != nil {
						t.Error(err)
					}
				}),
			}},
			Check: resource.ComposeTestCheckFunc(
				expectRegistryTags(primary, "app", "v3", "v4"),
				expectRegistryTags(replica, "app", "pinned", "v2", "v3", "v4"),
				expectManifests(replica, "app", true, images["v2"]),
			),
		},
	)
}
