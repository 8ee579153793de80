package provider

import (
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
)

// Deletion resources share one shape. The plan shows exactly what the apply
// removes, and the apply performs only that, after checking the registry
// again. Terraform plans every resource a second time during apply and
// rejects a plan that changed, so a plan must come out the same both times:
//
//   - A new resource (or a changed configuration) is planned from the
//     registry; if the registry changes between plan and apply, Terraform
//     stops with "inconsistent final plan" before anything is deleted.
//   - Afterwards, refresh (Read) records in `pending` what has appeared
//     again, and the plan is made from that refreshed state alone, which
//     both planning passes see identically; the apply's own checks then
//     explain any change since the plan.
//   - A configuration known only after apply (a name from another
//     resource) leaves the computed values unknown in the first plan; the
//     plan Terraform makes during apply has every value known and plans
//     from the registry like a new resource. So the apply always receives
//     a known plan.
//
// Destroy only forgets.

type planSource int

const (
	planNothing      planSource = iota // nothing changed: the plan is the state
	planFromRegistry                   // new or reconfigured: ask the registry
	planFromPending                    // refresh found things to delete again
)

func deletionPlanSource(req resource.ModifyPlanRequest, pending bool) planSource {
	switch {
	case !req.Config.Raw.IsFullyKnown():
		// Computed values stay unknown until the plan made during apply.
		return planNothing
	case req.State.Raw.IsNull() || !req.Plan.Raw.Equal(req.State.Raw):
		return planFromRegistry
	case pending:
		return planFromPending
	}
	return planNothing
}

// hasValue reports whether a refreshed computed value holds something.
func hasValue(v attr.Value) bool { return !v.IsNull() && !v.IsUnknown() }

func warnDestroyForgets(diags *diag.Diagnostics) {
	diags.AddWarning("Destroying only forgets",
		"Removing this resource deletes nothing and restores nothing. "+
			"It only stops Terraform from deleting the same things again if they reappear. "+
			"registry_restore puts back what an apply deleted, until garbage collection frees it.")
}
