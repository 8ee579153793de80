package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// deletions_id changes exactly when a plan deletes something, from the
// prior value and the deletions: the same deletions applied again still
// give a new value.
func TestNextDeletionsID(t *testing.T) {
	d := []decisionModel{{Repository: "app", Digest: "sha256:" + strings.Repeat("a", 64), Action: "delete_manifest", Tags: []string{"pr-1"}}}
	other := []decisionModel{{Repository: "app", Digest: "sha256:" + strings.Repeat("b", 64), Action: "untag", Tags: []string{"pr-2"}}}
	if got := nextDeletionsID("", nil); got != "" {
		t.Errorf("no deletions on a new policy: %q, want empty", got)
	}
	if got := nextDeletionsID("0123456789abcdef", []decisionModel{}); got != "0123456789abcdef" {
		t.Errorf("no deletions: %q, want the prior value", got)
	}
	first := nextDeletionsID("", d)
	if len(first) != 16 || first != nextDeletionsID("", d) {
		t.Errorf("first deletions: %q, want 16 hex digits, the same every time (both planning passes)", first)
	}
	if again := nextDeletionsID(first, d); again == first || again == "" {
		t.Errorf("the same deletions again: %q, want a new value", again)
	}
	if o := nextDeletionsID("", other); o == first {
		t.Errorf("other deletions give the same value %q", o)
	}
}

// A plan keeps the prior deletions_id when it deletes nothing (here a
// reconfigured policy) and gives a new, known one when it deletes (here
// from what the refresh found pending).
func TestPlanKeepsDeletionsIDUnlessItDeletes(t *testing.T) {
	ctx := context.Background()
	_, r := policyOnImage(t) // app:pr-1
	var diags diag.Diagnostics
	const prior = "0123456789abcdef"
	// planOf plans "delete { tag_regex = pattern }" from a state that has
	// set besides: a changed configuration when reconfigured, otherwise
	// refreshed computed values Terraform proposes as they are.
	planOf := func(pattern string, set map[string]tftypes.Value, reconfigured bool) (tftypes.Value, tfsdk.State) {
		req := newPolicyPlan(ctx, r, "app", pattern)
		applied := withAttributes(req.Plan.Raw, map[string]tftypes.Value{
			"id": str("app"), "pending_deletions": decisionsValue(nil), "deletions": decisionsValue(nil),
			"protected": protectedValue(nil), "other_registry_images": number(0), "summary": summaryValue("reg.example.com", nil, prior),
		}, &diags)
		req.State = tfsdk.State{Schema: req.Plan.Schema, Raw: withAttributes(applied, set, &diags)}
		req.Plan.Raw = req.State.Raw
		if reconfigured {
			req.Plan.Raw = applied
		}
		return modifyPlan(ctx, t, r, req).Plan.Raw, req.State
	}
	idOf := func(plan tftypes.Value) tftypes.Value {
		return rawAttribute(rawAttribute(plan, "summary"), "deletions_id")
	}

	// Reconfigured (the state had another max_deletions), nothing to delete.
	plan, _ := planOf("^nothing-", map[string]tftypes.Value{"max_deletions": tftypes.NewValue(tftypes.Number, 5)}, true)
	if got := idOf(plan); !got.Equal(str(prior)) {
		t.Errorf("a plan without deletions: deletions_id %v, want %q", got, prior)
	}

	// Refresh found app:pr-1 to delete: a new value, known in the plan.
	pending := []decisionModel{{Repository: "app", Digest: "sha256:" + strings.Repeat("a", 64), Action: "delete_manifest",
		Tags: []string{"pr-1"}, Referrers: []string{}, Children: []string{}, Reason: "delete[0]"}}
	plan, state := planOf("^pr-", map[string]tftypes.Value{"pending_deletions": decisionsValue(pending)}, false)
	if !rawAttribute(plan, "deletions").Equal(rawAttribute(state.Raw, "pending_deletions")) {
		t.Fatalf("the plan should delete what was pending: %v", rawAttribute(plan, "deletions"))
	}
	if got, want := idOf(plan), str(nextDeletionsID(prior, pending)); !got.Equal(want) || got.Equal(str(prior)) {
		t.Errorf("a plan with deletions: deletions_id %v, want %v", got, want)
	}
	if diags.HasError() {
		t.Fatal(diags)
	}
}
