package provider

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/distreg/terraform-provider-registry/internal/devprovider"
	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

const policy = "registry_retention_policy.this"

func policyConfig(reg *testregistry.Registry, body string) string {
	return providerBlock(reg, "") + "resource \"registry_retention_policy\" \"this\" {\n" + body + "\n}\n"
}

func expectDeletions(n int) plancheck.PlanCheck {
	return plancheck.ExpectKnownValue(policy, tfjsonpath.New("deletions"), knownvalue.ListSizeExact(n))
}

func expectDeletion(i int, attribute string, value knownvalue.Check) plancheck.PlanCheck {
	return plancheck.ExpectKnownValue(policy, tfjsonpath.New("deletions").AtSliceIndex(i).AtMapKey(attribute), value)
}

func TestAccRetentionPolicy_newestBySemver(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		for _, v := range []string{"v1.10.0", "v1.2.0", "v2.0.0", "v1.9.0", "v0.9.0", "latest"} {
			mustPush(t, reg, "app", v) // out of order on purpose
		}
		config := policyConfig(reg, `
  repositories = ["app"]
  keep {
    tags = ["latest"]
  }
  keep {
    tag_regex = "^v"
    newest    = 3
    order_by  = "semver"
  }
  delete {}`)
		accTest(t,
			resource.TestStep{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(policy, plancheck.ResourceActionCreate),
					expectDeletions(2),
				}},
				Check: expectRegistryTags(reg, "app", "latest", "v1.10.0", "v1.9.0", "v2.0.0"),
			},
			thenEmptyPlan(config),
		)
	})
}

// The provider's clock is pinned, so ages are exact: an image exactly
// older_than old is not older than it, one exactly newer_than old is not
// newer than it.
func TestAccRetentionPolicy_ageAndCreated(t *testing.T) {
	reg := startRegistry(t)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	mustPushAt(t, reg, "app", now.Add(-40*day), "old-1")
	mustPushAt(t, reg, "app", now.Add(-35*day), "old-2")
	mustPushAt(t, reg, "app", now.Add(-720*time.Hour), "at-720h")
	mustPushAt(t, reg, "app", now.Add(-720*time.Hour-time.Second), "past-720h")
	mustPushAt(t, reg, "app", now.Add(-1*day), "fresh")
	mustPushAt(t, reg, "app", now.Add(-72*time.Hour), "pr-at-72h")
	mustPushAt(t, reg, "app", now.Add(-72*time.Hour+time.Second), "pr-within-72h")
	mustPush(t, reg, "app", "unknown-age") // no created: never deleted by age
	mustPushAt(t, reg, "app", now.Add(-50*day), "release-1")
	config := policyConfig(reg, `
  repositories = ["app"]
  keep {
    newer_than = "72h"
  }
  keep {
    tag_regex = "^release-"
  }
  keep {
    tag_regex = "^old-"
    newest    = 1
  }
  delete {
    older_than = "720h"
  }
  delete {
    tag_regex = "^pr-"
  }`)
	deletion := func(tag, reason string) knownvalue.Check {
		return knownvalue.ObjectPartial(map[string]knownvalue.Check{
			"tags": listOf(tag), "action": knownvalue.StringExact("delete_manifest"), "reason": knownvalue.StringExact(reason),
		})
	}
	accTestAt(t, now,
		resource.TestStep{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue(policy, tfjsonpath.New("deletions"), knownvalue.SetExact([]knownvalue.Check{
					deletion("old-1", `delete[0] (older_than 720h0m0s)`),
					deletion("past-720h", `delete[0] (older_than 720h0m0s)`),
					deletion("pr-at-72h", `delete[1] (tag_regex "^pr-")`),
				})),
			}},
			Check: expectRegistryTags(reg, "app", "at-720h", "fresh", "old-2", "pr-within-72h", "release-1", "unknown-age"),
		},
		thenEmptyPlan(config),
	)
}

// Keep wins over delete; a digest with a kept tag is only untagged.
func TestAccRetentionPolicy_sharedDigestIsUntagged(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		shared := mustPush(t, reg, "app", "stable", "pr-7")
		alone := mustPush(t, reg, "app", "pr-8")
		mustPush(t, reg, "app", "pr-keep")
		config := policyConfig(reg, `
  repositories = ["app"]
  keep {
    tags = ["stable", "pr-keep"]
  }
  delete {
    tag_regex = "^pr-"
  }`)
		accTest(t,
			resource.TestStep{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(policy, tfjsonpath.New("deletions"), knownvalue.SetExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"digest": knownvalue.StringExact(shared.Digest.String()), "action": knownvalue.StringExact("untag"),
							"tags": listOf("pr-7"), "reason": knownvalue.StringRegexp(errorLike(`delete\[0\] \(tag_regex "\^pr-"\); the digest stays: kept tag\(s\) stable`)),
						}),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"digest": knownvalue.StringExact(alone.Digest.String()), "action": knownvalue.StringExact("delete_manifest"),
						}),
					})),
				}},
				Check: resource.ComposeTestCheckFunc(
					expectRegistryTags(reg, "app", "pr-keep", "stable"),
					expectManifests(reg, "app", true, shared.Digest),
					expectManifests(reg, "app", false, alone.Digest),
				),
			},
			thenEmptyPlan(config),
		)
	})
}

// An index goes with its children; signatures go with their subject and
// are never counted or matched as tags.
func TestAccRetentionPolicy_indexAndReferrers(t *testing.T) {
	reg := startRegistry(t)
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	oldIndex, children, err := reg.PushIndex("multi", platforms, time.Now(), "1.0")
	if err != nil {
		t.Fatal(err)
	}
	newIndex, _, err := reg.PushIndex("multi", platforms, time.Now(), "2.0")
	if err != nil {
		t.Fatal(err)
	}
	sig, err := reg.PushReferrer("multi", oldIndex, "sig")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushReferrer("multi", newIndex, "sig"); err != nil {
		t.Fatal(err)
	}
	config := policyConfig(reg, `
  repositories = ["multi"]
  keep {
    newest   = 1
    order_by = "semver"
  }
  delete {}`)
	accTest(t,
		resource.TestStep{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				expectDeletions(1),
				expectDeletion(0, "digest", knownvalue.StringExact(oldIndex.String())),
				expectDeletion(0, "tags", listOf("1.0", "sha256-"+oldIndex.Hex+".sig")),
				expectDeletion(0, "referrers", listOf(sig.String())),
				expectDeletion(0, "children", listOf(children[0].String(), children[1].String())),
			}},
			Check: resource.ComposeTestCheckFunc(
				expectRegistryTags(reg, "multi", "2.0", "sha256-"+newIndex.Hex+".sig"),
				expectManifests(reg, "multi", false, oldIndex, sig, children[0], children[1]),
				expectManifests(reg, "multi", true, newIndex),
			),
		},
		thenEmptyPlan(config),
	)
}

// New pushes that break the policy show up as an in-place update listing
// exactly them.
func TestAccRetentionPolicy_driftAfterNewPushes(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "ci/app", "main", "pr-1")
	config := policyConfig(reg, `
  repositories = ["ci/**"]
  keep {
    tags = ["main"]
  }
  delete {
    tag_regex = "^pr-"
  }`)
	var pr2 testregistry.Image
	accTest(t,
		resource.TestStep{Config: config, Check: expectRegistryTags(reg, "ci/app", "main")},
		resource.TestStep{
			PreConfig: func() { pr2 = mustPush(t, reg, "ci/app", "pr-2") },
			Config:    config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(policy, plancheck.ResourceActionUpdate),
				expectDeletions(1),
				expectDeletion(0, "tags", listOf("pr-2")),
			}},
			Check: resource.ComposeTestCheckFunc(
				expectRegistryTags(reg, "ci/app", "main"),
				deferred(func() resource.TestCheckFunc { return expectManifests(reg, "ci/app", false, pr2.Digest) }),
			),
		},
		thenEmptyPlan(config),
	)
}

// max_deletions holds as well when the apply decides for itself.
func TestAccRetentionPolicy_maxDeletionsWhenDecidedAtApply(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "app", "pr-1")
	mustPush(t, reg, "app", "pr-2")
	accTest(t, resource.TestStep{
		Config: policyConfig(reg, `
  repositories  = [terraform_data.names.output.repository]
  max_deletions = 1
  delete {}`) + namesKnownOnlyAtApply,
		ExpectError: errorLike(`would delete 2 digests \(2 tags\), more than max_deletions = 1: nothing is deleted`),
	})
	if tags, _ := reg.Tags("app"); len(tags) != 2 {
		t.Errorf("tags = %v, want both kept", tags)
	}
}

func TestAccRetentionPolicy_maxDeletions(t *testing.T) {
	reg := startRegistry(t)
	for i := range 4 {
		mustPush(t, reg, "app", fmt.Sprintf("pr-%d", i))
	}
	accTest(t, resource.TestStep{
		Config: policyConfig(reg, `
  repositories  = ["app"]
  max_deletions = 3
  delete {}`),
		ExpectError: errorLike(`would delete 4 digests \(4 tags\), more than max_deletions = 3: nothing is deleted`),
	})
	if tags, _ := reg.Tags("app"); len(tags) != 4 {
		t.Errorf("tags = %v, want all 4 kept", tags)
	}
}

func TestAccRetentionPolicy_deletionDisabled(t *testing.T) {
	reg := startRegistry(t, testregistry.WithDeleteDisabled())
	mustPush(t, reg, "app", "pr-1")
	accTest(t, resource.TestStep{
		Config: policyConfig(reg, `
  repositories = ["app"]
  delete {}`),
		ExpectError: errorLike(`deletion is disabled on this registry: set storage.delete.enabled: true`),
	})
}

func TestAccRetentionPolicy_badInput(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "app", "v1")
	cases := map[string]struct{ body, err string }{
		"bad regex":          {`repositories = ["app"]` + "\n" + `delete { tag_regex = "(" }`, `(?s)Invalid delete\[0\].tag_regex.*not a valid regular expression`},
		"bad duration":       {`repositories = ["app"]` + "\n" + `delete { older_than = "30 days" }`, `(?s)Invalid delete\[0\].older_than.*not a positive duration`},
		"newest below 1":     {`repositories = ["app"]` + "\n" + `keep { newest = 0 }` + "\n" + `delete {}`, `(?s)newest.*must be at least 1`},
		"empty repositories": {`repositories = []` + "\n" + `delete {}`, `(?s)repositories.*at least 1`},
		"no delete block":    {`repositories = ["app"]` + "\n" + `keep { tags = ["v1"] }`, `(?s)Block delete must have a configuration value`},
		"empty keep block":   {`repositories = ["app"]` + "\n" + `keep {}` + "\n" + `delete {}`, `(?s)Empty keep block`},
		"traversal pattern":  {`repositories = ["x/../*"]` + "\n" + `delete {}`, `(?s)repositories.*"x/../\*" is not a valid repository pattern`},
		"bad order_by":       {`repositories = ["app"]` + "\n" + "keep {\n newest = 1\n order_by = \"age\"\n}" + "\n" + `delete {}`, `(?s)order_by.*value must be one of`},
		"bad image":          {`repositories = ["app"]` + "\n" + `keep { images = ["reg.example.com/App:v1"] }` + "\n" + `delete {}`, `(?s)images.*"reg.example.com/App:v1" is not an image reference`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			accTest(t, resource.TestStep{Config: policyConfig(reg, tc.body), ExpectError: errorLike(tc.err)})
		})
	}
	t.Run("bad alias", func(t *testing.T) {
		accTest(t, resource.TestStep{
			Config:      providerBlock(reg, "", `aliases = ["https://reg.example.com"]`) + `data "registry_repositories" "all" {}`,
			ExpectError: errorLike(`(?s)aliases.*"https://reg.example.com" is not a registry host`),
		})
	})
}

func TestAccRetentionPolicy_noMatchingRepositoryWarns(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "app", "v1")
	accTest(t, resource.TestStep{
		Config: policyConfig(reg, `
  repositories = ["nothing/*"]
  delete {}`),
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue(policy, tfjsonpath.New("deletions"), knownvalue.ListSizeExact(0)),
		},
		Check: expectRegistryTags(reg, "app", "v1"),
	})
}

// One policy module applied to two registries through provider aliases:
// distribution v3 and 2.8 converge to the same tags. terraform-plugin-testing
// supports neither modules nor a process per alias, so this drives the CLI
// directly, with the compiled provider installed from a mirror.
func TestAccRetentionPolicy_oneModuleTwoRegistries(t *testing.T) {
	first := startRegistry(t)
	second := testregistry.StartV28(t)
	for _, reg := range []*testregistry.Registry{first, second} {
		for _, tags := range [][]string{{"v2.1.0"}, {"v1.0.0"}, {"v2.0.0"}, {"v2.2.0", "latest"}, {"v1.5.0"}, {"pr-101"}} {
			mustPush(t, reg, "demo/web", tags...)
		}
	}
	files, err := devprovider.ReadConfig(filepath.Join("..", "..", "examples", "demo", "retention"))
	if err != nil {
		t.Fatal(err)
	}
	files = map[string][]byte{"retention/main.tf": files["main.tf"], "main.tf": []byte(providerBlock(first, "first") + providerBlock(second, "second") + `
terraform {
  required_providers {
    registry = { source = "distreg/registry" }
  }
}
module "first" {
  source       = "./retention"
  repositories = ["demo/*"]
  providers    = { registry = registry.first }
}
module "second" {
  source       = "./retention"
  repositories = ["demo/*"]
  providers    = { registry = registry.second }
}`)}
	ws, out := initAndApply(t, files)
	want := []string{"latest", "v2.0.0", "v2.1.0", "v2.2.0"}
	for name, reg := range map[string]*testregistry.Registry{"v3": first, "2.8": second} {
		if err := expectRegistryTags(reg, "demo/web", want...)(nil); err != nil {
			t.Errorf("distribution %s: %v", name, err)
		}
	}
	// Idempotence: exit code 0 means no changes.
	if err := ws.Run(context.Background(), out, "plan", "-input=false", "-detailed-exitcode"); err != nil {
		t.Fatalf("second plan is not empty: %v\n%s", err, out.String())
	}
}

// A tag moved between a reviewed plan and its apply is skipped (with a
// warning), the rest is deleted, and the next plan shows the moved tag
// again. Destroying the policy afterwards deletes nothing.
func TestAccRetentionPolicy_movedTagSkippedAndDestroyKeeps(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "app", "main")
	config := policyConfig(reg, `
  repositories = ["app"]
  keep {
    tags = ["main"]
  }
  delete {
    tag_regex = "^pr-"
  }`)
	accTest(t,
		resource.TestStep{Config: config},
		resource.TestStep{
			PreConfig: func() {
				mustPush(t, reg, "app", "pr-1")
				mustPush(t, reg, "app", "pr-2")
			},
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				expectDeletions(2),
				betweenPlanAndApply(func() { mustPush(t, reg, "app", "pr-2") }),
			}},
			Check:              expectRegistryTags(reg, "app", "main", "pr-2"),
			ExpectNonEmptyPlan: true, // the moved pr-2 is pending again
		},
	)
	// resource.Test destroyed the policy: nothing more was deleted.
	if tags, err := reg.Tags("app"); err != nil || len(tags) != 2 {
		t.Fatalf("tags after destroy = %v, %v; want main and pr-2", tags, err)
	}
}

// A plan that cannot list the deletions says so. (The testing framework
// does not expose warnings, so this calls ModifyPlan directly.)
func TestRetentionPolicy_warnsWhenDeletionsCannotBePreviewed(t *testing.T) {
	for _, c := range []struct {
		name         string
		repositories tftypes.Value
		warned       bool
	}{
		{"known", tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, []tftypes.Value{tftypes.NewValue(tftypes.String, "app")}), false},
		{"unknown", tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, tftypes.UnknownValue), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			r := &RetentionPolicyResource{} // no client: planning stops before the registry
			config, schema := resourceValue(ctx, r, map[string]tftypes.Value{"repositories": c.repositories})
			req := fwresource.ModifyPlanRequest{
				Config: tfsdk.Config{Schema: schema.Schema, Raw: config},
				Plan:   tfsdk.Plan{Schema: schema.Schema, Raw: config},
				State:  tfsdk.State{Schema: schema.Schema, Raw: tftypes.NewValue(config.Type(), nil)},
			}
			resp := fwresource.ModifyPlanResponse{Plan: req.Plan}
			r.ModifyPlan(ctx, req, &resp)
			warned := false
			for _, d := range resp.Diagnostics {
				warned = warned || d.Summary() == "Deletions not previewed"
			}
			if warned != c.warned || resp.Diagnostics.HasError() {
				t.Errorf("warned = %v, want %v; diagnostics: %v", warned, c.warned, resp.Diagnostics)
			}
		})
	}
}

// A saved plan of a new policy applied after the registry changed behind
// it: a new tag lands on one planned digest, a new tagged index lists
// another. Terraform applies the plan as reviewed (no "inconsistent final
// plan"), the apply keeps both digests with their tags and deletes the
// rest, and the next plan shows what the policy asks of the registry now.
func TestAccRetentionPolicy_savedPlanAfterTheRegistryChanged(t *testing.T) {
	reg := startRegistry(t)
	retagged := mustPush(t, reg, "app", "pr-1")
	reused := mustPush(t, reg, "app", "pr-2")
	gone := mustPush(t, reg, "app", "pr-3")
	var index v1.Hash
	config := policyConfig(reg, `
  repositories = ["app"]
  delete {
    tag_regex = "^pr-"
  }`)
	accTest(t,
		resource.TestStep{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(policy, plancheck.ResourceActionCreate),
				expectDeletions(3),
				betweenPlanAndApply(func() {
					if err := reg.Tag("app", retagged.Digest, "hotfix"); err != nil {
						t.Error(err)
					}
					var err error
					if index, err = reg.PushIndexOf("app", []v1.Hash{reused.Digest}, "release"); err != nil {
						t.Error(err)
					}
				}),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(policy, tfjsonpath.New("deletions"), knownvalue.ListSizeExact(3)),
			},
			Check: resource.ComposeTestCheckFunc(
				expectRegistryTags(reg, "app", "hotfix", "pr-1", "pr-2", "release"),
				expectManifests(reg, "app", true, retagged.Digest, reused.Digest),
				expectManifests(reg, "app", false, gone.Digest),
				deferred(func() resource.TestCheckFunc { return expectManifests(reg, "app", true, index) }),
			),
			ExpectNonEmptyPlan: true, // pr-1 and pr-2 are pending again, as untags now
		},
		resource.TestStep{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				expectDeletions(2),
				expectDeletion(0, "action", knownvalue.StringExact("untag")),
				expectDeletion(1, "action", knownvalue.StringExact("untag")),
			}},
			Check: expectRegistryTags(reg, "app", "hotfix", "release"),
		},
		thenEmptyPlan(config),
	)
}

// The plan is built as raw values (withAttributes, decisionsValue) and read
// back by hand (decisionsOf): a round trip through the framework's own
// Plan proves they match the schema, which otherwise only TF_ACC runs see.
func TestRetentionPlanValuesRoundTrip(t *testing.T) {
	ctx := context.Background()
	r := &RetentionPolicyResource{}
	req := newPolicyPlan(ctx, r, "app", "^pr-")
	want := []decisionModel{
		{Repository: "app", Digest: "sha256:" + strings.Repeat("a", 64), Action: "delete_manifest", Tags: []string{"pr-1", "pr-2"},
			Referrers: []string{"sha256:" + strings.Repeat("b", 64)}, Children: []string{}, Reason: "delete[0]", Bytes: new(int64(4096))},
		{Repository: "app", Digest: "sha256:" + strings.Repeat("c", 64), Action: "untag", Tags: []string{"pr-3"},
			Referrers: []string{}, Children: []string{}, Reason: "delete[0]; the digest stays", Bytes: new(int64(0))},
	}
	var diags diag.Diagnostics
	found := policyOutcome{otherImages: 3, protected: []retention.Spared{
		{Repository: "app", Digest: "sha256:" + strings.Repeat("d", 64), Tags: []string{"v1"}, Reason: "deployed as reg/app:v1"},
	}}.values()
	lists, _ := (*setAside)(nil).decisionLists(map[string][]decisionModel{"deletions": want, "pending_deletions": nil})
	plan := tfsdk.Plan{Schema: req.Plan.Schema, Raw: plannedValue("reg.example.com", req.Plan.Raw, req.State.Raw, []string{"app"}, want, lists, found, &diags)}
	var model retentionModel
	diags.Append(plan.Get(ctx, &model)...)
	if diags.HasError() {
		t.Fatal(diags)
	}
	if got := decisionsOf(rawAttribute(plan.Raw, "deletions"), &diags); !reflect.DeepEqual(got, want) {
		t.Fatalf("deletions read back as %+v, want %+v", got, want)
	}
	if model.ID.ValueString() != "app" || len(model.PendingDeletions.Elements()) != 0 {
		t.Fatalf("id %v, pending %v", model.ID, model.PendingDeletions)
	}
	if model.OtherImages.ValueInt64() != 3 || len(model.Protected.Elements()) != 1 {
		t.Fatalf("other_registry_images %v, protected %v", model.OtherImages, model.Protected)
	}
	// 3 tags; the manifest deletion with its referrer, 2 manifests
	wantSummary := fmt.Sprintf(`{"bytes":4096,"deletions_id":%q,"manifests":2,"registry":"reg.example.com","repositories":{"app":{"bytes":4096,"manifests":2,"tags":3}},"tags":3}`,
		nextDeletionsID("", want))
	if got := model.Summary.String(); got != wantSummary {
		t.Fatalf("summary %s, want %s", got, wantSummary)
	}
}

// Deployed images are kept whatever the rules say, on both registries: a
// tag by tag, a digest with every tag on it, an index child with the tagged
// index that lists it (and its signature); a name in aliases is this
// registry, other registries' references are counted and ignored.
func TestAccRetentionPolicy_deployedImages(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
		index, children, err := reg.PushIndex("app", platforms, time.Now(), "1.0")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushReferrer("app", index, "sig"); err != nil {
			t.Fatal(err)
		}
		mustPush(t, reg, "app", "v1")
		pinned := mustPush(t, reg, "app", "v2", "stable")
		mustPush(t, reg, "app", "old")
		mustPush(t, reg, "other", "v1")
		images := []string{
			reg.Host + "/app@" + children[1].String(), // what a pod's imageID says
			reg.Host + "/app:v1",
			"registry.example.com:5000/app@" + pinned.Digest.String(), // through an alias
			reg.Host + "/app@sha256:" + strings.Repeat("0", 64),       // gone: a warning
			"ghcr.io/org/app:v1", "nginx:1.27",                        // other registries
			reg.Host + "/other:v1", // this registry, outside the policy
		}
		config := providerBlock(reg, "", `aliases = ["registry.example.com:5000"]`) + fmt.Sprintf(`
variable "deployed" {
  type    = list(string)
  default = %s
}
resource "registry_retention_policy" "this" {
  repositories = ["app"]
  keep {
    images = var.deployed
  }
  delete {}
}
`, hclList(images))
		protectedDigests := []knownvalue.Check{
			knownvalue.ObjectPartial(map[string]knownvalue.Check{"digest": knownvalue.StringExact(index.String()), "tags": listOf("1.0"),
				"reason": knownvalue.StringRegexp(regexp.MustCompile(`^deployed as .*/app@` + children[1].String() + `; matched by delete\[0\]`))}),
			knownvalue.ObjectPartial(map[string]knownvalue.Check{"digest": knownvalue.StringExact(pinned.Digest.String()), "tags": listOf("stable", "v2")}),
		}
		accTest(t,
			resource.TestStep{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectDeletions(1),
					expectDeletion(0, "tags", listOf("old")),
					plancheck.ExpectKnownValue(policy, tfjsonpath.New("other_registry_images"), knownvalue.Int64Exact(2)),
					plancheck.ExpectKnownValue(policy, tfjsonpath.New("summary"), knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"tags": knownvalue.Int64Exact(1), "manifests": knownvalue.Int64Exact(1), "bytes": knownvalue.Null(),
						"registry": knownvalue.StringExact(strings.TrimPrefix(reg.URL, "http://")),
						"repositories": knownvalue.MapExact(map[string]knownvalue.Check{"app": knownvalue.ObjectExact(map[string]knownvalue.Check{
							"tags": knownvalue.Int64Exact(1), "manifests": knownvalue.Int64Exact(1), "bytes": knownvalue.Null(),
						})}),
					})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(policy, tfjsonpath.New("protected"), knownvalue.SetPartial(protectedDigests)),
				},
				Check: resource.ComposeTestCheckFunc(
					expectRegistryTags(reg, "app", "1.0", "sha256-"+index.Hex+".sig", "stable", "v1", "v2"),
					expectManifests(reg, "app", true, index, children[0], children[1], pinned.Digest),
					expectRegistryTags(reg, "other", "v1"),
				),
			},
			thenEmptyPlan(config),
		)
	})
}

// The deployed-images example, run by the CLI with a variable holding what
// a cluster reports: pods' image and imageID (with the Docker runtime's
// prefix) mixed with other registries' images.
func TestAccRetentionPolicy_deployedImagesExample(t *testing.T) {
	reg := startRegistry(t)
	running := mustPush(t, reg, "web", "v1.0.0")
	for _, v := range []string{"v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0", "v1.5.0", "pr-7", "pr-8"} {
		mustPush(t, reg, "web", v)
	}
	files, err := devprovider.ReadConfig(filepath.Join("..", "..", "examples", "deployed-images"))
	if err != nil {
		t.Fatal(err)
	}
	pods := []string{
		reg.Host + "/web:v1.0.0", "docker-pullable://" + reg.Host + "/web@" + running.Digest.String(),
		reg.Host + "/web:pr-8",
		"nginx:1.27", "docker.io/library/nginx@sha256:" + strings.Repeat("a", 64), "registry.k8s.io/pause:3.10",
	}
	files = map[string][]byte{"deployed/main.tf": files["main.tf"], "main.tf": []byte(providerBlock(reg, "") + fmt.Sprintf(`
terraform {
  required_providers {
    registry = { source = "distreg/registry" }
  }
}
module "cleanup" {
  source          = "./deployed"
  repositories    = ["web"]
  deployed_images = %s
}
output "bytes" {
  value = module.cleanup.summary.bytes
}`, hclList(pods)))}
	_, out := initAndApply(t, files)
	if err := expectRegistryTags(reg, "web", "pr-8", "v1.0.0", "v1.3.0", "v1.4.0", "v1.5.0")(nil); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !regexp.MustCompile(`bytes = [1-9][0-9]+`).MatchString(out.String()) {
		t.Fatalf("no space figure in the output:\n%s", out.String())
	}
}

// initAndApply runs terraform init and apply in a workspace of files with
// the compiled provider, and returns it with the CLI's output so far.
func initAndApply(t *testing.T, files map[string][]byte) (*devprovider.Workspace, *strings.Builder) {
	t.Helper()
	ws := newWorkspace(t, files)
	var out strings.Builder
	for _, args := range [][]string{{"init", "-input=false"}, {"apply", "-auto-approve", "-input=false"}} {
		if err := ws.Run(context.Background(), &out, args...); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
	}
	return ws, &out
}

// hclList writes strings as an HCL list.
func hclList(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// A plan replayed into a later, separate apply is an upper bound, never a
// licence: tags a and b under "keep the newest one by name", planned
// (deleting a), then b deleted through the API; the apply repeats the
// recorded plan, evaluates the policy against the registry again, which
// now keeps a, and deletes nothing.
func TestAccRetentionPolicy_replayedPlanDeletesOnlyWhatThePolicyStillDeletes(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		mustPush(t, reg, "app", "a")
		b := mustPush(t, reg, "app", "b")
		config := policyConfig(reg, `
  repositories = ["app"]
  keep {
    newest   = 1
    order_by = "name"
  }
  delete {}`)
		accTest(t,
			// A plan without -out: the plan is recorded in cache_dir.
			resource.TestStep{Config: config, PlanOnly: true, ExpectNonEmptyPlan: true},
			// b goes; the apply that follows must keep a.
			resource.TestStep{
				PreConfig: func() {
					if err := reg.DeleteManifest("app", b.Digest); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				Check:  expectRegistryTags(reg, "app", "a"),
			},
			thenEmptyPlan(config),
		)
	})
}

// A pod's imageID is often an index digest whose tag has moved on: what
// that untagged index lists stays, whatever tags its children carry (the
// tag goes, the manifest stays) and whichever tagged index shares them
// (that index goes, with only the children it alone lists). Issue 30, loss
// path 1: the index answered 200, its child 404.
func TestAccRetentionPolicy_pinnedUntaggedIndexKeepsItsChildren(t *testing.T) {
	reg := startRegistry(t)
	created := time.Now().Add(-time.Hour)
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	var images []string
	deployed := func(repo string) (v1.Hash, []v1.Hash) {
		index, children, err := reg.PushIndex(repo, platforms, created, "main")
		if err != nil {
			t.Fatal(err)
		}
		mustPush(t, reg, repo, "main") // main has moved on
		images = append(images, reg.Host+"/"+repo+"@"+index.String())
		return index, children
	}
	index1, children1 := deployed("pin/child")
	if err := reg.Tag("pin/child", children1[0], "pr-1-amd64"); err != nil {
		t.Fatal(err)
	}
	index2, children2 := deployed("pin/shared")
	own, err := reg.PushImageFor("pin/shared", platforms[1], created)
	if err != nil {
		t.Fatal(err)
	}
	pr7, err := reg.PushIndexOf("pin/shared", []v1.Hash{children2[0], own.Digest}, "pr-7")
	if err != nil {
		t.Fatal(err)
	}
	config := policyConfig(reg, fmt.Sprintf(`
  repositories = ["pin/*"]
  keep { images = %s }
  delete { tag_regex = "^pr-" }
`, hclList(images)))
	accTest(t,
		// Plan and apply: pr-1-amd64 is untagged, pr-7 deleted with its own child only.
		resource.TestStep{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				expectDeletions(2),
				expectDeletion(0, "digest", knownvalue.StringExact(children1[0].String())),
				expectDeletion(0, "action", knownvalue.StringExact("untag")),
				expectDeletion(0, "reason", knownvalue.StringRegexp(regexp.MustCompile(`deployed image\(s\) .*/pin/child@`+index1.String()+` use it`))),
				expectDeletion(1, "digest", knownvalue.StringExact(pr7.String())),
				expectDeletion(1, "action", knownvalue.StringExact("delete_manifest")),
				expectDeletion(1, "children", listOf(own.Digest.String())),
			}},
			Check: resource.ComposeTestCheckFunc(
				expectRegistryTags(reg, "pin/child", "main"),
				expectManifests(reg, "pin/child", true, index1, children1[0], children1[1]),
				expectRegistryTags(reg, "pin/shared", "main"),
				expectManifests(reg, "pin/shared", true, index2, children2[0], children2[1]),
				expectManifests(reg, "pin/shared", false, pr7, own.Digest),
			),
		},
		thenEmptyPlan(config),
	)
}
