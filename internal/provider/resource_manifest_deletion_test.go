package provider

import (
	"fmt"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

const manifestDeletion = "registry_manifest_deletion.this"

func expectPlanned(attribute string, value knownvalue.Check) plancheck.PlanCheck {
	return plancheck.ExpectKnownValue(manifestDeletion, tfjsonpath.New(attribute), value)
}

func listOf(values ...string) knownvalue.Check {
	return knownvalue.ListExact(stringValues(values...))
}

// `latest` and `v1.9` share a digest: deleting it by tag takes both, and
// the plan says so before anything happens.
func TestAccManifestDeletion_sharedDigest(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		shared := mustPush(t, reg, "app", "latest", "v1.9")
		other := mustPush(t, reg, "app", "v2.0")
		config := providerBlock(reg, "") + `
resource "registry_manifest_deletion" "this" {
  repository = "app"
  tag        = "v1.9"
}`
		accTest(t,
			resource.TestStep{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(manifestDeletion, plancheck.ResourceActionCreate),
					expectPlanned("digest", knownvalue.StringExact(shared.Digest.String())),
					expectPlanned("removed_tags", listOf("latest", "v1.9")),
					expectPlanned("removed_children", listOf()),
				}},
				Check: resource.ComposeTestCheckFunc(
					expectRegistryTags(reg, "app", "v2.0"),
					expectManifests(reg, "app", false, shared.Digest),
					expectManifests(reg, "app", true, other.Digest),
				),
			},
			thenEmptyPlan(config),
		)
	})
}

// Deleting an index deletes the children nothing else references, and
// keeps a child that a tag still points at.
func TestAccManifestDeletion_index(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
		index, children, err := reg.PushIndex("multi", platforms, time.Now(), "1.0")
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Tag("multi", children[1], "arm64-pinned"); err != nil {
			t.Fatal(err)
		}
		accTest(t, resource.TestStep{
			Config: providerBlock(reg, "") + fmt.Sprintf(`
resource "registry_manifest_deletion" "this" {
  repository = "multi"
  digest     = %q
}`, index),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				expectPlanned("removed_tags", listOf("1.0")),
				expectPlanned("removed_children", listOf(children[0].String())),
			}},
			Check: resource.ComposeTestCheckFunc(
				expectRegistryTags(reg, "multi", "arm64-pinned"),
				expectManifests(reg, "multi", false, index, children[0]),
				expectManifests(reg, "multi", true, children[1]),
			),
		})
	})
}

// Signatures (cosign-style sha256-<hex>.sig tags) go with their subject.
func TestAccManifestDeletion_referrers(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		img := mustPush(t, reg, "signed", "v1")
		sig, err := reg.PushReferrer("signed", img.Digest, "sig")
		if err != nil {
			t.Fatal(err)
		}
		kept := mustPush(t, reg, "signed", "v2")
		sigTag := "sha256-" + img.Digest.Hex + ".sig"
		accTest(t, resource.TestStep{
			Config: providerBlock(reg, "") + `
resource "registry_manifest_deletion" "this" {
  repository = "signed"
  tag        = "v1"
}`,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				expectPlanned("removed_tags", listOf(sigTag, "v1")),
				expectPlanned("removed_referrers", listOf(sig.String())),
			}},
			Check: resource.ComposeTestCheckFunc(
				expectRegistryTags(reg, "signed", "v2"),
				expectManifests(reg, "signed", false, img.Digest, sig),
				expectManifests(reg, "signed", true, kept.Digest),
			),
		})
	})
}

func TestAccManifestDeletion_keepsReferrersWhenAsked(t *testing.T) {
	reg := startRegistry(t)
	img := mustPush(t, reg, "signed", "v1")
	sig, err := reg.PushReferrer("signed", img.Digest, "sig")
	if err != nil {
		t.Fatal(err)
	}
	accTest(t, resource.TestStep{
		Config: providerBlock(reg, "") + `
resource "registry_manifest_deletion" "this" {
  repository       = "signed"
  tag              = "v1"
  delete_referrers = false
}`,
		ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
			expectPlanned("removed_tags", listOf("v1")),
			expectPlanned("removed_referrers", listOf()),
		}},
		Check: expectManifests(reg, "signed", true, sig),
	})
}

// An image pushed again under the deleted tag is deleted again by the next
// apply, and the plan shows it as an update with the new digest.
func TestAccManifestDeletion_repushDrift(t *testing.T) {
	reg := startRegistry(t)
	first := mustPush(t, reg, "drift", "v1")
	var second testregistry.Image
	config := providerBlock(reg, "") + `
resource "registry_manifest_deletion" "this" {
  repository = "drift"
  tag        = "v1"
}`
	accTest(t,
		resource.TestStep{
			Config: config,
			Check:  expectManifests(reg, "drift", false, first.Digest),
		},
		resource.TestStep{
			PreConfig: func() { second = mustPush(t, reg, "drift", "v1", "also") },
			Config:    config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(manifestDeletion, plancheck.ResourceActionUpdate),
				expectPlanned("removed_tags", listOf("also", "v1")),
			}},
			Check: resource.ComposeTestCheckFunc(
				expectRegistryTags(reg, "drift"),
				deferred(func() resource.TestCheckFunc { return expectManifests(reg, "drift", false, second.Digest) }),
			),
		},
		thenEmptyPlan(config),
	)
}

// The saved plan of a new deletion is applied after the tag moved to
// another image: the plan stays as reviewed (no "inconsistent final plan"
// from Terraform), and the apply's own check deletes nothing and says why.
func TestAccManifestDeletion_tagMovedBeforeFirstApply(t *testing.T) {
	reg := startRegistry(t)
	planned := mustPush(t, reg, "moving", "v1")
	var moved testregistry.Image
	accTest(t, resource.TestStep{
		Config: providerBlock(reg, "") + `
resource "registry_manifest_deletion" "this" {
  repository = "moving"
  tag        = "v1"
}`,
		ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
			betweenPlanAndApply(func() { moved = mustPush(t, reg, "moving", "v1") }),
		}},
		ExpectError: errorLike(`nothing deleted: since the plan, tag "v1" in "moving" moved from ` + planned.Digest.String()),
	})
	for _, d := range []v1.Hash{planned.Digest, moved.Digest} {
		if found, err := reg.ManifestExists("moving", d); err != nil || !found {
			t.Errorf("manifest %s was deleted (err %v)", d, err)
		}
	}
}

// Once the deletion is in state, the plan comes from refresh, and a change
// behind a saved plan is caught by the apply's own checks: a tag that
// moved deletes nothing and says why; a manifest already gone is success.
func TestAccManifestDeletion_changesBehindSavedPlan(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "behind", "v1")
	var again, moved testregistry.Image
	config := providerBlock(reg, "") + `
resource "registry_manifest_deletion" "this" {
  repository = "behind"
  tag        = "v1"
}`
	accTest(t,
		resource.TestStep{Config: config},
		resource.TestStep{
			PreConfig: func() { again = mustPush(t, reg, "behind", "v1") },
			Config:    config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(manifestDeletion, plancheck.ResourceActionUpdate),
				betweenPlanAndApply(func() { moved = mustPush(t, reg, "behind", "v1") }),
			}},
			ExpectError: errorLike(`nothing deleted: since the plan, tag "v1" in "behind" moved`),
		},
		resource.TestStep{
			PreConfig: func() {
				for _, img := range []testregistry.Image{again, moved} {
					if found, err := reg.ManifestExists("behind", img.Digest); err != nil || !found {
						t.Errorf("manifest %s was deleted (err %v)", img.Digest, err)
					}
				}
			},
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				betweenPlanAndApply(func() {
					if err := reg.DeleteManifest("behind", moved.Digest); err != nil {
						t.Error(err)
					}
				}),
			}},
			Check: expectRegistryTags(reg, "behind"),
		},
		thenEmptyPlan(config),
	)
}

func TestAccManifestDeletion_deletionDisabled(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start(testregistry.WithDeleteDisabled())
		img := mustPush(t, reg, "app", "v1")
		accTest(t, resource.TestStep{
			Config: providerBlock(reg, "") + `
resource "registry_manifest_deletion" "this" {
  repository = "app"
  tag        = "v1"
}`,
			ExpectError: errorLike(`deletion is disabled on this registry: set storage.delete.enabled: true`),
		})
		if found, _ := reg.ManifestExists("app", img.Digest); !found {
			t.Error("the manifest was deleted")
		}
	})
}

func TestAccManifestDeletion_readOnly(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		root := t.TempDir() // outlives the writable registry that seeds it
		writable := start(testregistry.WithRootDir(root))
		img := mustPush(t, writable, "app", "v1")
		if err := writable.Close(); err != nil {
			t.Fatal(err)
		}
		reg := start(testregistry.WithReadOnly(), testregistry.WithRootDir(root))
		accTest(t, resource.TestStep{
			Config: providerBlock(reg, "") + `
resource "registry_manifest_deletion" "this" {
  repository = "app"
  tag        = "v1"
}`,
			ExpectError: errorLike(`read-only mode \(storage.maintenance.readonly\)`),
		})
		if found, _ := reg.ManifestExists("app", img.Digest); !found {
			t.Error("the manifest was deleted")
		}
	})
}

func TestAccManifestDeletion_badInput(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "app", "v1")
	cases := map[string]struct{ body, err string }{
		"invalid digest":     {`repository = "app"` + "\n" + `digest = "sha256:xyz"`, `(?s)Invalid digest.*is not a digest`},
		"digest and tag":     {`repository = "app"` + "\n" + `tag = "v1"` + "\n" + `digest = "sha256:` + zeros + `"`, `(?s)Invalid Attribute Combination`},
		"neither":            {`repository = "app"`, `(?s)Invalid Attribute Combination`},
		"unknown repository": {`repository = "nope"` + "\n" + `tag = "v1"`, `repository "nope" does not exist`},
		"invalid tag":        {`repository = "app"` + "\n" + `tag = "-bad"`, `(?s)Invalid tag.*is not a valid tag`},
		"path traversal":     {`repository = "x/../app"` + "\n" + `tag = "v1"`, `(?s)Invalid repository.*"x/../app" is not a valid repository name`},
		"empty component":    {`repository = "team//app"` + "\n" + `tag = "v1"`, `(?s)Invalid repository.*is not a valid repository name`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			accTest(t, resource.TestStep{
				Config:      providerBlock(reg, "") + "resource \"registry_manifest_deletion\" \"this\" {\n" + tc.body + "\n}",
				ExpectError: errorLike(tc.err),
			})
		})
	}
	if tags, _ := reg.Tags("app"); len(tags) != 1 {
		t.Errorf("tags after bad input: %v", tags)
	}
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"

// Deleting a platform image that a tagged index lists breaks that index:
// the plan names the index and its tags and fails, deleting nothing,
// unless the configuration accepts it with allow_breaking_indexes.
func TestAccManifestDeletion_indexChildNamesItsIndexes(t *testing.T) {
	reg := startRegistry(t)
	index, children, err := reg.PushIndex("multi", []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}, time.Time{}, "v1", "latest")
	if err != nil {
		t.Fatal(err)
	}
	config := func(allow string) string {
		return providerBlock(reg, "") + fmt.Sprintf(`
resource "registry_manifest_deletion" "this" {
  repository = "multi"
  digest     = %q
  %s
}`, children[0], allow)
	}
	accTest(t,
		// Refused at plan time, naming the index and its tags.
		resource.TestStep{
			Config:      config(""),
			ExpectError: errorLike(`(?s)would break tagged indexes.*` + index.String() + ` \(tags: latest, v1\).*allow_breaking_indexes = true`),
		},
		// Accepted: the plan lists the index it breaks, the apply deletes only the child.
		resource.TestStep{
			PreConfig: func() {
				if found, err := reg.ManifestExists("multi", children[0]); err != nil || !found {
					t.Fatalf("the refused plan deleted %s (err %v)", children[0], err)
				}
			},
			Config: config("allow_breaking_indexes = true"),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				expectPlanned("broken_indexes", knownvalue.MapExact(map[string]knownvalue.Check{index.String(): listOf("latest", "v1")})),
				expectPlanned("removed_tags", listOf()),
			}},
			Check: resource.ComposeTestCheckFunc(
				expectManifests(reg, "multi", false, children[0]),
				expectManifests(reg, "multi", true, index, children[1]),
				expectRegistryTags(reg, "multi", "latest", "v1"),
			),
		},
	)
}
