package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// The provider's own repositories hold the journal its applies restore
// from: explicit deletions refuse them, whether the name is in the
// configuration or known only at apply (Terraform validates the
// configuration again then, before planning it), and the journal is still
// there afterwards.
func TestAccProviderNamespace_deletionsRefused(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		journal := mustPush(t, reg, registry.JournalRepository, "chunk-1")
		const own = `"terraform-provider-registry/journal" is one of the provider's own repositories`
		invalid := errorLike(`(?s)Invalid repository.*` + own)
		written := func(resource string) string {
			return providerBlock(reg, "") + resource
		}
		knownAtApply := func(resource string) string {
			return providerBlock(reg, "") + `
resource "terraform_data" "name" {
  input = "terraform-provider-registry/journal"
}
` + resource
		}
		manifest := `
resource "registry_manifest_deletion" "this" {
  repository = %s
  tag        = "chunk-1"
}`
		tags := `
resource "registry_tag_deletion" "this" {
  repository = %s
  tags       = ["chunk-1"]
}`
		steps := []resource.TestStep{
			// Named in the configuration: refused by validation.
			{Config: written(fmt.Sprintf(manifest, `"terraform-provider-registry/journal"`)), ExpectError: invalid},
			{Config: written(fmt.Sprintf(tags, `"terraform-provider-registry/journal"`)), ExpectError: invalid},
			// Known only at apply: refused by validation then, before any deletion.
			{Config: knownAtApply(fmt.Sprintf(manifest, "terraform_data.name.output")), ExpectError: invalid},
			{Config: knownAtApply(fmt.Sprintf(tags, "terraform_data.name.output")), ExpectError: invalid},
			// Nothing deleted.
			{
				Config: providerBlock(reg, ""),
				Check: resource.ComposeTestCheckFunc(
					expectRegistryTags(reg, registry.JournalRepository, "chunk-1"),
					expectManifests(reg, registry.JournalRepository, true, journal.Digest),
				),
			},
		}
		accTest(t, steps...)
	})
}

// registry_repositories leaves the provider's own repositories out, so a
// for_each over its names never feeds them to a deletion.
func TestAccProviderNamespace_notListed(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, registry.JournalRepository, "chunk-1")
	mustPush(t, reg, "team/api", "latest")
	accTest(t, resource.TestStep{
		Config: providerBlock(reg, "") + `
data "registry_repositories" "all" {}
data "registry_repositories" "asked" {
  prefix = "terraform-provider-registry/"
}`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue("data.registry_repositories.all", tfjsonpath.New("names"), knownvalue.ListExact(stringValues("team/api"))),
			statecheck.ExpectKnownValue("data.registry_repositories.asked", tfjsonpath.New("names"), knownvalue.ListExact(stringValues())),
		},
	})
}
