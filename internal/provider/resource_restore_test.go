package provider

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// tooWide is a policy that keeps only "stable": a regex one character too
// wide, as users fear.
const tooWide = `
resource "registry_retention_policy" "bad" {
  repositories = ["app"]
  keep {
    tags = ["stable"]
  }
  delete {}
}
`

// overDeletedApp is what tooWide deletes from app.
type overDeletedApp struct {
	first, second testregistry.Image // v1; v2 and latest
	index         v1.Hash            // multi
	children      []v1.Hash
}

func pushOverDeletedApp(t *testing.T, reg *testregistry.Registry) overDeletedApp {
	t.Helper()
	o := overDeletedApp{first: mustPush(t, reg, "app", "v1"), second: mustPush(t, reg, "app", "v2", "latest")}
	mustPush(t, reg, "app", "stable")
	var err error
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	if o.index, o.children, err = reg.PushIndex("app", platforms, time.Time{}, "multi"); err != nil {
		t.Fatal(err)
	}
	return o
}

// expectPulls reads each reference as docker pull does: the manifest,
// the config and every layer (an index: every child in full).
func expectPulls(reg *testregistry.Registry, repo string, refs ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, ref := range refs {
			if err := reg.Pull(repo, ref); err != nil {
				return err
			}
		}
		return nil
	}
}

// restoringAll is the plan of restoring everything tooWide deleted, after
// v1 and v2 came back: those two listed as present, then the index's
// children, by digest, and the index after them.
func (o overDeletedApp) restoringAll() []knownvalue.Check {
	images := map[string]knownvalue.Check{
		o.first.Digest.String():  restoredImage(o.first.Digest, true, nil, nil),
		o.second.Digest.String(): restoredImage(o.second.Digest, true, nil, nil),
		o.children[0].String():   restoredImage(o.children[0], false, nil, nil),
		o.children[1].String():   restoredImage(o.children[1], false, nil, nil),
	}
	var checks []knownvalue.Check
	for _, d := range slices.Sorted(maps.Keys(images)) {
		checks = append(checks, images[d])
	}
	return append(checks, restoredImage(o.index, false, []string{"multi"}, nil))
}

// expectTagOn checks where tag points in the registry.
func expectTagOn(reg *testregistry.Registry, repo, tag string, digest func() v1.Hash) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := reg.Resolve(repo, tag)
		if err == nil && got != digest() {
			err = fmt.Errorf("%s:%s points at %s, want %s", repo, tag, got, digest())
		}
		return err
	}
}

func restoredImage(digest v1.Hash, present bool, tags, moved []string) knownvalue.Check {
	checks := map[string]knownvalue.Check{
		"digest":     knownvalue.StringExact(digest.String()),
		"present":    knownvalue.Bool(present),
		"tags":       listOf(tags...),
		"moved_tags": listOf(moved...),
	}
	if len(moved) == 0 { // {}, never null (where a moved tag points: restore_moved_again_cli_test.go)
		checks["moved_tag_digests"] = knownvalue.MapExact(map[string]knownvalue.Check{})
	} else {
		checks["moved_tag_digests"] = knownvalue.MapSizeExact(len(moved))
	}
	return knownvalue.ObjectPartial(checks)
}

func expectRestorePlan(address string, images ...knownvalue.Check) plancheck.PlanCheck {
	return plancheck.ExpectKnownValue(address, tfjsonpath.New("images"), knownvalue.ListExact(images))
}

// A policy deletes too much; a provider with another cache_dir (another
// machine) restores from the journal in the registry: by tag, by digest
// (leaving a tag pushed since, then moving it back when asked), then
// everything the apply deleted, found through registry_journal. After
// each restore the images pull in full.
func TestAccRestore_afterAPolicyThatDeletedTooMuch(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		o := pushOverDeletedApp(t, reg)
		applied, other := t.TempDir(), t.TempDir()
		onOtherMachine := providerBlock(reg, "", fmt.Sprintf("cache_dir = %q", other))
		byTag := `
resource "registry_restore" "v1" {
  repository = "app"
  tags       = ["v1"]
}
`
		byDigest := fmt.Sprintf(`
resource "registry_restore" "v2" {
  digests              = [%q]
  overwrite_moved_tags = %%t
}
`, o.second.Digest)
		everything := `
data "registry_journal" "app" {
  repository = "app"
}
resource "registry_restore" "all" {
  apply_id = data.registry_journal.app.entries[0].apply_id
}
`
		var moved testregistry.Image
		accTest(t,
			// The policy deletes everything but stable.
			resource.TestStep{
				Config: providerBlock(reg, "", fmt.Sprintf("cache_dir = %q", applied)) + tooWide,
				Check: resource.ComposeTestCheckFunc(
					expectRegistryTags(reg, "app", "stable"),
					expectManifests(reg, "app", false, o.first.Digest, o.second.Digest, o.index, o.children[0], o.children[1]),
				),
			},
			// Restore v1 by its tag, the policy removed from the configuration.
			resource.TestStep{
				Config: onOtherMachine + byTag,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("registry_restore.v1", plancheck.ResourceActionCreate),
					expectRestorePlan("registry_restore.v1", restoredImage(o.first.Digest, false, []string{"v1"}, nil)),
				}},
				Check: resource.ComposeTestCheckFunc(
					expectRegistryTags(reg, "app", "stable", "v1"),
					expectPulls(reg, "app", "v1"),
				),
			},
			// Restore v2's image by digest: latest, pushed onto another image since, stays there.
			resource.TestStep{
				PreConfig: func() { moved = mustPush(t, reg, "app", "latest") },
				Config:    onOtherMachine + byTag + fmt.Sprintf(byDigest, false),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectRestorePlan("registry_restore.v2", restoredImage(o.second.Digest, false, []string{"v2"}, []string{"latest"})),
				}},
				Check: resource.ComposeTestCheckFunc(
					expectRegistryTags(reg, "app", "latest", "stable", "v1", "v2"),
					expectPulls(reg, "app", "v2", "latest"),
					expectTagOn(reg, "app", "latest", func() v1.Hash { return moved.Digest }),
				),
			},
			// Asked to, the restore moves latest back.
			resource.TestStep{
				Config: onOtherMachine + byTag + fmt.Sprintf(byDigest, true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("registry_restore.v2", plancheck.ResourceActionUpdate),
					expectRestorePlan("registry_restore.v2", restoredImage(o.second.Digest, true, []string{"latest"}, []string{"latest"})),
				}},
				Check: expectTagOn(reg, "app", "latest", func() v1.Hash { return o.second.Digest }),
			},
			// Everything the apply deleted: the index comes back after its children.
			resource.TestStep{
				Config: onOtherMachine + byTag + fmt.Sprintf(byDigest, true) + everything,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					expectRestorePlan("registry_restore.all", o.restoringAll()...),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.registry_journal.app", tfjsonpath.New("entries"), knownvalue.ListSizeExact(5)),
				},
				Check: resource.ComposeTestCheckFunc(
					expectRegistryTags(reg, "app", "latest", "multi", "stable", "v1", "v2"),
					expectPulls(reg, "app", "multi", "v1", "v2", "latest"),
				),
			},
			thenEmptyPlan(onOtherMachine+byTag+fmt.Sprintf(byDigest, true)+everything),
		)
		if matches, _ := filepath.Glob(filepath.Join(other, "journal", "*")); len(matches) > 0 {
			t.Errorf("the restoring provider's cache_dir holds a journal (%v): it must have read the registry's", matches)
		}
	})
}

// After garbage collection freed a blob of v1's image (its config's file
// removed from the storage), restoring v1 fails at plan time naming it,
// and the journal says v1 expired while v2, deleted by the same apply, is
// still restorable; once v2 is restored, it is present.
func TestAccRestore_freedBlobsFailThePlan(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		first, second := mustPush(t, reg, "app", "v1"), mustPush(t, reg, "app", "v2")
		mustPush(t, reg, "app", "stable")
		journal := `
data "registry_journal" "app" {
  repository = "app"
}
`
		restoreV2 := `
resource "registry_restore" "v2" {
  repository = "app"
  tags       = ["v2"]
}
`
		entry := func(image testregistry.Image, values ...string) resource.TestCheckFunc {
			want := map[string]string{"digest": image.Digest.String(), "tags.#": "1"}
			for i := 0; i < len(values); i += 2 {
				want[values[i]] = values[i+1]
			}
			return resource.TestCheckTypeSetElemNestedAttrs("data.registry_journal.app", "entries.*", want)
		}
		accTest(t,
			// The policy deletes v1 and v2.
			resource.TestStep{
				Config: providerBlock(reg, "") + tooWide,
				Check:  expectRegistryTags(reg, "app", "stable"),
			},
			// Garbage collection frees v1's config: its restore fails, naming it.
			resource.TestStep{
				PreConfig: func() {
					if err := reg.RemoveBlobFile(first.ConfigDigest); err != nil {
						t.Fatal(err)
					}
				},
				Config: providerBlock(reg, "") + `
resource "registry_restore" "v1" {
  repository = "app"
  tags       = ["v1"]
}
`,
				ExpectError: errorLike(`(?s)Cannot plan the restore.*cannot come back.*` + first.Digest.String() + `.*blob ` + first.ConfigDigest.String()),
			},
			// The journal: v1 expired, v2 restorable.
			resource.TestStep{
				Config: providerBlock(reg, "") + journal,
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr("data.registry_journal.app", "entries.#", "2"),
					entry(first, "tags.0", "v1", "expired", "true", "restorable", "false", "present", "false",
						"missing.#", "1", "missing.0", "blob "+first.ConfigDigest.String()),
					entry(second, "tags.0", "v2", "expired", "false", "restorable", "true", "present", "false", "missing.#", "0"),
					expectManifests(reg, "app", false, first.Digest),
				),
			},
			// Once restored, v2 is present.
			resource.TestStep{
				Config: providerBlock(reg, "") + restoreV2,
				Check:  expectPulls(reg, "app", "v2"),
			},
			resource.TestStep{
				Config: providerBlock(reg, "") + restoreV2 + journal,
				Check:  entry(second, "present", "true", "restorable", "false", "expired", "false"),
			},
		)
	})
}
