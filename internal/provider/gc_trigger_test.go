package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

var regexp16Hex = regexp.MustCompile(`^[0-9a-f]{16}$`)

// The documented trigger runs garbage collection once after each apply
// that deletes, and never again on its own: summary.deletions_id changes
// with the deletions and survives the refresh, which empties deletions (a
// trigger on sha256(jsonencode(deletions)) re-ran garbage collection on
// every plan after a deleting apply).
func TestAccRetentionPolicy_garbageCollectionTrigger(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "app", "v1")
	mustPush(t, reg, "app", "pr-1")
	config := providerBlock(reg, "") + fmt.Sprintf(`
resource "registry_retention_policy" "this" {
  repositories = ["app"]
  delete {
    tag_regex = "^pr-"
  }
}

resource "registry_garbage_collection" "test" {
  storage_driver     = "filesystem"
  storage_parameters = { rootdirectory = %q }
  dry_run            = true # a writable registry: the deletions need it
  triggers = {
    deletions = registry_retention_policy.this.summary.deletions_id
  }
}
`, reg.RootDir)
	deletionsID := tfjsonpath.New("summary").AtMapKey("deletions_id")
	accTest(t,
		// Create: the policy deletes pr-1, then garbage collection runs.
		resource.TestStep{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(policy, plancheck.ResourceActionCreate),
				expectDeletions(1),
				plancheck.ExpectKnownValue(policy, deletionsID, knownvalue.StringRegexp(regexp16Hex)),
				plancheck.ExpectResourceAction(gcAddress, plancheck.ResourceActionCreate),
			}},
			Check: expectRegistryTags(reg, "app", "v1"),
		},
		// Refresh and plan: nothing to delete, garbage collection stays.
		thenEmptyPlan(config),
		// A new pr- tag: the policy deletes it and garbage collection runs
		// again, after it.
		resource.TestStep{
			PreConfig: func() { mustPush(t, reg, "app", "pr-2") },
			Config:    config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(policy, plancheck.ResourceActionUpdate),
				expectDeletions(1),
				plancheck.ExpectResourceAction(gcAddress, plancheck.ResourceActionReplace),
			}},
			Check: expectRegistryTags(reg, "app", "v1"),
		},
		thenEmptyPlan(config),
	)
}
