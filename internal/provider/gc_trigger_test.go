package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

var regexp16Hex = regexp.MustCompile(`^[0-9a-f]{16}$`)

// The documented trigger runs garbage collection once after each apply
// that deletes, never again on its own, and not after an apply that
// skipped every deletion: applied.deletions_id changes only when an apply
// deleted, and survives the refresh, which empties deletions (a trigger on
// sha256(jsonencode(deletions)) re-ran garbage collection on every plan
// after a deleting apply). It is unknown in a plan with deletions, so
// garbage collection plans an update, and runs only if the value it finds
// at apply differs from its last run's.
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
    deletions = registry_retention_policy.this.applied.deletions_id
  }
}
`, reg.RootDir)
	applied := tfjsonpath.New("applied")
	runID := statecheck.CompareValue(compare.ValuesSame())
	runIDChanged := statecheck.CompareValue(compare.ValuesDiffer())
	gcRun := tfjsonpath.New("id")
	// A plan check that moves pr-2 onto another image once the plan is
	// made: the apply skips its planned deletion (the tag moved since).
	movePR2 := sideEffect(func() { mustPush(t, reg, "app", "pr-2") })
	accTest(t,
		// Create: the policy deletes pr-1, then garbage collection runs.
		resource.TestStep{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(policy, plancheck.ResourceActionCreate),
				expectDeletions(1),
				plancheck.ExpectUnknownValue(policy, applied),
				plancheck.ExpectResourceAction(gcAddress, plancheck.ResourceActionCreate),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(policy, applied.AtMapKey("deletions_id"), knownvalue.StringRegexp(regexp16Hex)),
				statecheck.ExpectKnownValue(policy, applied.AtMapKey("manifests"), knownvalue.Int64Exact(1)),
				runID.AddStateValue(gcAddress, gcRun),
				runIDChanged.AddStateValue(gcAddress, gcRun),
			},
			Check: expectRegistryTags(reg, "app", "v1"),
		},
		// Refresh and plan: nothing to delete, garbage collection stays.
		thenEmptyPlan(config),
		// A new pr- tag, moved to another image between the plan and the
		// apply: the apply skips it, deletes nothing, and garbage
		// collection, planned as an update, does not run.
		resource.TestStep{
			PreConfig: func() { mustPush(t, reg, "app", "pr-2") },
			Config:    config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(policy, plancheck.ResourceActionUpdate),
				expectDeletions(1),
				plancheck.ExpectResourceAction(gcAddress, plancheck.ResourceActionUpdate),
				movePR2,
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(policy, applied.AtMapKey("manifests"), knownvalue.Int64Exact(0)),
				statecheck.ExpectKnownValue(policy, applied.AtMapKey("skipped"), knownvalue.ListSizeExact(1)),
				runID.AddStateValue(gcAddress, gcRun),
			},
			Check:              expectRegistryTags(reg, "app", "pr-2", "v1"),
			ExpectNonEmptyPlan: true, // pr-2, on its new image, is still to delete
		},
		// The next apply deletes it, and garbage collection runs again.
		resource.TestStep{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				expectDeletions(1),
				plancheck.ExpectResourceAction(gcAddress, plancheck.ResourceActionUpdate),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(policy, applied.AtMapKey("manifests"), knownvalue.Int64Exact(1)),
				runIDChanged.AddStateValue(gcAddress, gcRun),
			},
			Check: expectRegistryTags(reg, "app", "v1"),
		},
		thenEmptyPlan(config),
	)
}

// sideEffect is a plan check that only acts: run between a step's plan and
// its apply.
type sideEffect func()

func (f sideEffect) CheckPlan(context.Context, plancheck.CheckPlanRequest, *plancheck.CheckPlanResponse) {
	f()
}
