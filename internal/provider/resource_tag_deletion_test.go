package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

const tagDeletion = "registry_tag_deletion.this"

func expectTagPlan(attribute string, value knownvalue.Check) plancheck.PlanCheck {
	return plancheck.ExpectKnownValue(tagDeletion, tfjsonpath.New(attribute), value)
}

func digestsByTag(pairs ...string) knownvalue.Check {
	m := map[string]knownvalue.Check{}
	for i := 0; i < len(pairs); i += 2 {
		m[pairs[i]] = knownvalue.StringExact(pairs[i+1])
	}
	return knownvalue.MapExact(m)
}

// Deleting v1.9 leaves latest, which shares its digest, and the image: on
// v3 through the tag-delete API, on 2.8 through the placeholder fallback.
func TestAccTagDeletion_sharedDigest(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		shared := mustPush(t, reg, "app", "latest", "v1.9")
		config := providerBlock(reg, "") + `
resource "registry_tag_deletion" "this" {
  repository = "app"
  tags       = ["v1.9", "never-existed"]
}`
		accTest(t,
			resource.TestStep{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(tagDeletion, plancheck.ResourceActionCreate),
					expectTagPlan("removed_tags", digestsByTag("v1.9", shared.Digest.String())),
					expectTagPlan("deleted_manifests", listOf()),
				}},
				Check: resource.ComposeTestCheckFunc(
					expectRegistryTags(reg, "app", "latest"),
					expectManifests(reg, "app", true, shared.Digest),
				),
			},
			thenEmptyPlan(config),
		)
	})
}

// A tag left pointing at a deleted manifest (a push that raced a DELETE)
// is listed and resolves to nothing: the plan shows it on no digest, the
// apply removes it and nothing else.
func TestAccTagDeletion_danglingTag(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		kept := mustPush(t, reg, "app", "v1")
		if err := reg.DanglingTag("app", "ghost"); err != nil {
			t.Fatal(err)
		}
		config := providerBlock(reg, "") + `
resource "registry_tag_deletion" "this" {
  repository                = "app"
  tags                      = ["ghost"]
  delete_untagged_manifests = true
}`
		accTest(t,
			resource.TestStep{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectTagPlan("removed_tags", digestsByTag("ghost", "")),
					expectTagPlan("deleted_manifests", listOf()),
				}},
				Check: resource.ComposeTestCheckFunc(
					expectRegistryTags(reg, "app", "v1"),
					expectManifests(reg, "app", true, kept.Digest),
				),
			},
			thenEmptyPlan(config),
		)
	})
}

// With delete_untagged_manifests, an image left without tags is deleted by
// digest; one that keeps a tag is not.
func TestAccTagDeletion_deleteUntaggedManifests(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		alone := mustPush(t, reg, "app", "pr-1")
		shared := mustPush(t, reg, "app", "pr-2", "stable")
		sig, err := reg.PushReferrer("app", alone.Digest, "sig")
		if err != nil {
			t.Fatal(err)
		}
		accTest(t, resource.TestStep{
			Config: providerBlock(reg, "") + `
resource "registry_tag_deletion" "this" {
  repository                = "app"
  tags                      = ["pr-1", "pr-2"]
  delete_untagged_manifests = true
}`,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				expectTagPlan("removed_tags", digestsByTag("pr-1", alone.Digest.String(), "pr-2", shared.Digest.String())),
				expectTagPlan("deleted_manifests", listOf(alone.Digest.String(), sig.String())), // the subject first
			}},
			Check: resource.ComposeTestCheckFunc(
				expectRegistryTags(reg, "app", "stable"),
				expectManifests(reg, "app", false, alone.Digest, sig),
				expectManifests(reg, "app", true, shared.Digest),
			),
		})
	})
}

// A tag pushed again is removed again: refresh records it as pending, the
// plan is an in-place update, the apply removes it.
func TestAccTagDeletion_reappearingTag(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "app", "latest", "nightly")
	var again testregistry.Image
	config := providerBlock(reg, "") + `
resource "registry_tag_deletion" "this" {
  repository = "app"
  tags       = ["nightly"]
}`
	accTest(t,
		resource.TestStep{Config: config, Check: expectRegistryTags(reg, "app", "latest")},
		resource.TestStep{
			PreConfig: func() { again = mustPush(t, reg, "app", "nightly") },
			Config:    config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(tagDeletion, plancheck.ResourceActionUpdate),
				plancheck.ExpectKnownValue(tagDeletion, tfjsonpath.New("pending"), knownvalue.Null()),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(tagDeletion, tfjsonpath.New("removed_tags").AtMapKey("nightly"), knownvalue.NotNull()),
			},
			Check: resource.ComposeTestCheckFunc(
				expectRegistryTags(reg, "app", "latest"),
				// untagged, the image itself stays
				deferred(func() resource.TestCheckFunc { return expectManifests(reg, "app", true, again.Digest) }),
			),
		},
		thenEmptyPlan(config),
	)
}

// A tag re-pointed between a reviewed plan and its apply: nothing deleted.
func TestAccTagDeletion_retagBehindSavedPlan(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "app", "keep", "nightly")
	config := providerBlock(reg, "") + `
resource "registry_tag_deletion" "this" {
  repository = "app"
  tags       = ["nightly", "keep"]
}`
	accTest(t,
		resource.TestStep{Config: config, Check: expectRegistryTags(reg, "app")},
		resource.TestStep{
			PreConfig: func() { mustPush(t, reg, "app", "nightly", "keep") },
			Config:    config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				betweenPlanAndApply(func() { mustPush(t, reg, "app", "nightly") }),
			}},
			ExpectError: errorLike(`(?s)nothing deleted: since the plan, these tags in "app" point at another image:\s+kept\s+tag\s+app:nightly`),
			Check:       expectRegistryTags(reg, "app", "keep", "nightly"),
		},
	)
	if tags, _ := reg.Tags("app"); len(tags) != 2 {
		t.Errorf("tags after refused apply: %v, want keep and nightly", tags)
	}
}

func TestAccTagDeletion_refusedByRegistry(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start(testregistry.WithDeleteDisabled())
		mustPush(t, reg, "app", "v1")
		accTest(t, resource.TestStep{
			Config: providerBlock(reg, "") + `
resource "registry_tag_deletion" "this" {
  repository = "app"
  tags       = ["v1"]
}`,
			ExpectError: errorLike(`deletion is disabled on this registry: set storage.delete.enabled: true`),
		})
		if tags, _ := reg.Tags("app"); len(tags) != 1 {
			t.Errorf("tags = %v, want v1 kept", tags)
		}
	})
}

func TestAccTagDeletion_badInput(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "app", "v1")
	cases := map[string]struct{ body, err string }{
		"empty tags":         {`repository = "app"` + "\n" + `tags = []`, `(?s)tags.*at least 1`},
		"invalid tag":        {`repository = "app"` + "\n" + `tags = ["ok", "no way"]`, `(?s)is not a valid tag`},
		"unknown repository": {`repository = "nope"` + "\n" + `tags = ["v1"]`, `repository "nope" does not exist`},
		"trailing slash":     {`repository = "app/"` + "\n" + `tags = ["v1"]`, `(?s)Invalid repository.*"app/" is not a valid repository name`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			accTest(t, resource.TestStep{
				Config:      providerBlock(reg, "") + "resource \"registry_tag_deletion\" \"this\" {\n" + tc.body + "\n}",
				ExpectError: errorLike(tc.err),
			})
		})
	}
}
