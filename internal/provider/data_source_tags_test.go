package provider

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestAccTagsDataSource_listsEveryPage(t *testing.T) {
	reg := startRegistry(t)
	const n = 2600 // three pages of distribution's 1000
	if _, err := reg.SeedTags("big/app", n, func(i int) string { return fmt.Sprintf("build-%05d", i) }, func(int) time.Time { return time.Time{} }); err != nil {
		t.Fatal(err)
	}
	accTest(t, resource.TestStep{
		Config: providerBlock(reg, "") + `
data "registry_tags" "all" {
  repository = "big/app"
}`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue("data.registry_tags.all", tfjsonpath.New("tags"), knownvalue.ListSizeExact(n)),
			statecheck.ExpectKnownValue("data.registry_tags.all", tfjsonpath.New("tags").AtSliceIndex(0), knownvalue.StringExact("build-00000")),
			statecheck.ExpectKnownValue("data.registry_tags.all", tfjsonpath.New("tags").AtSliceIndex(n-1), knownvalue.StringExact(fmt.Sprintf("build-%05d", n-1))),
		},
	})
}

func TestAccTagsDataSource_ordering(t *testing.T) {
	reg := startRegistry(t)
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	// Pushed out of order on purpose: neither push order nor name order
	// matches version or age order.
	mustPushAt(t, reg, "ord/app", day.Add(48*time.Hour), "v1.10.0")
	mustPushAt(t, reg, "ord/app", day, "v1.2.0")
	mustPushAt(t, reg, "ord/app", day.Add(72*time.Hour), "latest")
	mustPushAt(t, reg, "ord/app", day.Add(24*time.Hour), "v2.0.0-rc.1")
	mustPushAt(t, reg, "ord/app", time.Time{}, "v1.9.0")

	accTest(t, resource.TestStep{
		Config: providerBlock(reg, "") + `
data "registry_tags" "semver" {
  repository = "ord/app"
  order_by   = "semver"
}
data "registry_tags" "created" {
  repository = "ord/app"
  order_by   = "created"
}
data "registry_tags" "name" {
  repository = "ord/app"
  tag_regex  = "^v1\\."
}`,
		ConfigStateChecks: []statecheck.StateCheck{
			expectTags("data.registry_tags.semver", "v2.0.0-rc.1", "v1.10.0", "v1.9.0", "v1.2.0", "latest"),
			// unknown age (v1.9.0) ranks last
			expectTags("data.registry_tags.created", "latest", "v1.10.0", "v2.0.0-rc.1", "v1.2.0", "v1.9.0"),
			expectTags("data.registry_tags.name", "v1.10.0", "v1.2.0", "v1.9.0"),
			statecheck.ExpectKnownValue("data.registry_tags.name", tfjsonpath.New("details"), knownvalue.Null()),
		},
	})
}

func TestAccTagsDataSource_details(t *testing.T) {
	reg := startRegistry(t)
	created := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	img := mustPushAt(t, reg, "det/app", created, "latest", "v1.9")
	unknown := mustPush(t, reg, "det/app", "old")

	detail := func(tag string, img testregistry.Image, created knownvalue.Check) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{
			"tag":        knownvalue.StringExact(tag),
			"digest":     knownvalue.StringExact(img.Digest.String()),
			"created":    created,
			"media_type": knownvalue.StringExact("application/vnd.oci.image.manifest.v1+json"),
		})
	}
	accTest(t, resource.TestStep{
		Config: providerBlock(reg, "") + `
data "registry_tags" "app" {
  repository   = "det/app"
  with_details = true
}`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue("data.registry_tags.app", tfjsonpath.New("details"), knownvalue.ListExact([]knownvalue.Check{
				detail("latest", img, knownvalue.StringExact("2026-02-03T04:05:06Z")),
				detail("old", unknown, knownvalue.Null()),
				detail("v1.9", img, knownvalue.StringExact("2026-02-03T04:05:06Z")),
			})),
		},
	})
}

// A repository name the library would clean into another one is refused
// at plan time, naming the attribute.
func TestAccTagsDataSource_badRepositoryName(t *testing.T) {
	reg := startRegistry(t)
	for _, name := range []string{"x/../app", "a//b", "app/", "App"} {
		accTest(t, resource.TestStep{
			Config:      providerBlock(reg, "") + fmt.Sprintf("data \"registry_tags\" \"x\" {\n  repository = %q\n}", name),
			ExpectError: errorLike(`(?s)Invalid repository.*is not a valid repository name`),
		})
	}
}
