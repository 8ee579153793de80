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

// Names known only after apply (here from terraform_data) leave what a
// deletion resource deletes unknown in the first plan; the plan Terraform
// makes during apply lists it, and the apply performs it. One case per
// deletion resource; each deletes "old" and keeps "kept".
func TestAccDeletion_namesKnownOnlyAtApply(t *testing.T) {
	for _, c := range []struct {
		name, address, config string
		unknown               string // an attribute the first plan leaves unknown
		recorded              func(old testregistry.Image) knownvalue.Check
		recordedIn            string
		manifestDeleted       bool
	}{
		{
			name: "retention policy", address: policy, unknown: "deletions", recordedIn: "deletions", manifestDeleted: true,
			config: `
resource "registry_retention_policy" "this" {
  repositories = [terraform_data.names.output.repository]
  keep {
    tags = [terraform_data.names.output.kept]
  }
  delete {}
}`,
			recorded: func(old testregistry.Image) knownvalue.Check {
				return knownvalue.ListExact([]knownvalue.Check{knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"digest": knownvalue.StringExact(old.Digest.String()),
					"action": knownvalue.StringExact("delete_manifest"),
					"tags":   listOf("old"),
				})})
			},
		},
		{
			name: "manifest deletion", address: manifestDeletion, unknown: "removed_tags", recordedIn: "digest", manifestDeleted: true,
			config: `
resource "registry_manifest_deletion" "this" {
  repository = terraform_data.names.output.repository
  tag        = "old"
}`,
			recorded: func(old testregistry.Image) knownvalue.Check { return knownvalue.StringExact(old.Digest.String()) },
		},
		{
			name: "tag deletion", address: tagDeletion, unknown: "removed_tags", recordedIn: "removed_tags",
			config: `
resource "registry_tag_deletion" "this" {
  repository = terraform_data.names.output.repository
  tags       = ["old"]
}`,
			recorded: func(old testregistry.Image) knownvalue.Check { return digestsByTag("old", old.Digest.String()) },
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := startRegistry(t)
			old := mustPush(t, reg, "app", "old")
			mustPush(t, reg, "app", "kept")
			config := providerBlock(reg, "") + namesKnownOnlyAtApply + c.config
			accTest(t,
				resource.TestStep{
					Config: config,
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectUnknownValue(c.address, tfjsonpath.New(c.unknown)),
					}},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(c.address, tfjsonpath.New(c.recordedIn), c.recorded(old)),
					},
					Check: resource.ComposeTestCheckFunc(
						expectRegistryTags(reg, "app", "kept"),
						expectManifests(reg, "app", !c.manifestDeleted, old.Digest),
					),
				},
				thenEmptyPlan(config),
			)
		})
	}
}
