package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

// deletionKind is what a deletion resource (registry_manifest_deletion,
// registry_tag_deletion) has of its own: its model M, its planned deletion
// D, how it plans, checks, records, performs and refreshes one. The
// lifecycle they share (deletion_plan.go says why it is so) is run here;
// registry_restore, a planned change to the registry too, runs it as well.
type deletionKind[M, D any] struct {
	typeName     string
	planError    string // summary when planning fails
	executeError string // summary when the apply fails
	// plan asks the registry what the configuration deletes now.
	plan func(context.Context, *registry.Client, M, *diag.Diagnostics) (D, error)
	// check refuses (an error) or warns about a planned deletion, and
	// reports whether it writes anything.
	check func(M, D, *diag.Diagnostics) bool
	// writable asks the registry whether it accepts what the apply
	// writes; nil: deletions in the repository planned (CheckDeletable).
	writable func(context.Context, *registry.Client, D, *diag.Diagnostics)
	// destroyWarning says what destroying the resource does; nil: it only
	// forgets (warnDestroyForgets).
	destroyWarning func(*diag.Diagnostics)
	// record sets a planned deletion in the model, pending cleared.
	record func(*M, context.Context, D, *diag.Diagnostics)
	// hasPending tells whether refresh recorded a deletion, and pending
	// and planned read it back, or the deletion the plan recorded.
	hasPending       func(M) bool
	pending, planned func(M, context.Context, *diag.Diagnostics) D
	// execute performs a planned deletion.
	execute func(*registry.Client, context.Context, D) error
	// refresh records in the model's pending what is in the registry
	// again, with a warning.
	refresh func(*M, context.Context, *registry.Client, *diag.Diagnostics) error
}

func (k deletionKind[M, D]) modifyPlan(ctx context.Context, client *registry.Client, now func() time.Time, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		if k.destroyWarning == nil {
			warnDestroyForgets(&resp.Diagnostics)
		} else {
			k.destroyWarning(&resp.Diagnostics)
		}
		return
	}
	var plan, state M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() || client == nil {
		return
	}
	var d D
	source := deletionPlanSource(req, k.hasPending(state))
	switch source {
	case planNothing:
		return
	case planFromRegistry:
		var err error
		if d, err = k.plan(ctx, client, plan, &resp.Diagnostics); err != nil {
			resp.Diagnostics.AddError(k.planError, err.Error())
			return
		}
	case planFromPending:
		d = k.pending(state, ctx, &resp.Diagnostics)
	}
	writes := k.check(plan, d, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if writes {
		k.checkWritable(ctx, client, req.Plan, d, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	k.record(&plan, ctx, d, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
	if source == planFromRegistry {
		recordsOf(client, now).settle(k.typeName, req, resp)
	}
}

func (k deletionKind[M, D]) checkWritable(ctx context.Context, client *registry.Client, plan tfsdk.Plan, d D, diags *diag.Diagnostics) {
	if k.writable != nil {
		k.writable(ctx, client, d, diags)
		return
	}
	if err := client.CheckDeletable(ctx, registryRepository(ctx, plan)); err != nil {
		diags.AddError("The registry will not accept the deletion", err.Error())
	}
}

// registryRepository is the plan's repository attribute.
func registryRepository(ctx context.Context, plan tfsdk.Plan) string {
	var repo string
	plan.GetAttribute(ctx, path.Root("repository"), &repo)
	return repo
}

func (k deletionKind[M, D]) create(ctx context.Context, client *registry.Client, now func() time.Time, req resource.CreateRequest, resp *resource.CreateResponse) {
	recordsOf(client, now).forget(k.typeName, req.Config.Raw, tftypes.NewValue(req.Plan.Raw.Type(), nil))
	k.apply(ctx, client, req.Plan, &resp.State, &resp.Diagnostics)
}

func (k deletionKind[M, D]) update(ctx context.Context, client *registry.Client, now func() time.Time, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	recordsOf(client, now).forget(k.typeName, req.Config.Raw, req.State.Raw)
	k.apply(ctx, client, req.Plan, &resp.State, &resp.Diagnostics)
}

// apply performs exactly the deletion in the plan, which is known here even
// when the configuration was not at plan time: Terraform plans again
// during apply, with every value known (deletion_plan.go).
func (k deletionKind[M, D]) apply(ctx context.Context, client *registry.Client, planned tfsdk.Plan, state *tfsdk.State, diags *diag.Diagnostics) {
	var plan M
	diags.Append(planned.Get(ctx, &plan)...)
	if diags.HasError() {
		return
	}
	d := k.planned(plan, ctx, diags)
	if diags.HasError() {
		return
	}
	if err := k.execute(client, ctx, d); err != nil {
		diags.AddError(k.executeError, err.Error())
		return
	}
	diags.Append(state.Set(ctx, &plan)...)
}

// read records in pending what the next apply must delete again.
func (k deletionKind[M, D]) read(ctx context.Context, client *registry.Client, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state M
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := k.refresh(&state, ctx, client, &resp.Diagnostics); err != nil {
		resp.Diagnostics.AddError("Cannot check the registry", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}
