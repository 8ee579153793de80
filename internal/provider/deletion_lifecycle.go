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
// A kind embeds deletesInRepository for the common answers.
type deletionKind[M, D any] interface {
	// names are the resource type and the summaries of its errors.
	names() kindNames
	// plan asks the registry what the configuration deletes now.
	plan(ctx context.Context, c *registry.Client, m M, diags *diag.Diagnostics) (D, error)
	// check refuses (an error) or warns about a planned deletion, and
	// reports whether it writes anything.
	check(ctx context.Context, m M, d D, diags *diag.Diagnostics) bool
	// checkWritable asks the registry whether it accepts what the apply
	// writes.
	checkWritable(ctx context.Context, c *registry.Client, plan tfsdk.Plan, d D, diags *diag.Diagnostics)
	// warnDestroy says what destroying the resource does.
	warnDestroy(diags *diag.Diagnostics)
	// record sets a planned deletion in the model, pending cleared.
	record(ctx context.Context, m *M, d D, diags *diag.Diagnostics)
	// hasPending tells whether refresh recorded a deletion, and pending
	// and planned read it back, or the deletion the plan recorded.
	hasPending(m M) bool
	pending(ctx context.Context, m M, diags *diag.Diagnostics) D
	planned(ctx context.Context, m M, diags *diag.Diagnostics) D
	// execute performs a planned deletion and returns what its apply
	// did (skipped, noticed, put back, lost: reportApplied), also along
	// with an error.
	execute(ctx context.Context, c *registry.Client, d D) (registry.Report, error)
	// refresh records in the model's pending what is in the registry
	// again, with a warning.
	refresh(ctx context.Context, m *M, c *registry.Client, diags *diag.Diagnostics) error
}

type kindNames struct {
	typeName     string
	planError    string // summary when planning fails
	executeError string // summary when the apply fails
}

// deletesInRepository answers for a kind that deletes in the plan's
// repository: the registry must accept deletions there, and destroying
// the resource only forgets it.
type deletesInRepository[D any] struct{}

func (deletesInRepository[D]) checkWritable(ctx context.Context, c *registry.Client, plan tfsdk.Plan, _ D, diags *diag.Diagnostics) {
	if err := c.CheckDeletable(ctx, registryRepository(ctx, plan)); err != nil {
		diags.AddError("The registry will not accept the deletion", err.Error())
	}
}

func (deletesInRepository[D]) warnDestroy(diags *diag.Diagnostics) { warnDestroyForgets(diags) }

func modifyDeletionPlan[M, D any](ctx context.Context, k deletionKind[M, D], client *registry.Client, now func() time.Time, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		k.warnDestroy(&resp.Diagnostics)
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
			resp.Diagnostics.AddError(k.names().planError, err.Error())
			return
		}
	case planFromPending:
		d = k.pending(ctx, state, &resp.Diagnostics)
	}
	writes := k.check(ctx, plan, d, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if writes {
		k.checkWritable(ctx, client, req.Plan, d, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	k.record(ctx, &plan, d, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
	if source == planFromRegistry {
		recordsOf(client, now).settle(k.names().typeName, req, resp, nil)
	}
}

// registryRepository is the plan's repository attribute.
func registryRepository(ctx context.Context, plan tfsdk.Plan) string {
	var repo string
	plan.GetAttribute(ctx, path.Root("repository"), &repo)
	return repo
}

func createDeletion[M, D any](ctx context.Context, k deletionKind[M, D], client *registry.Client, now func() time.Time, req resource.CreateRequest, resp *resource.CreateResponse) {
	recordsOf(client, now).forget(k.names().typeName, req.Config.Raw, tftypes.NewValue(req.Plan.Raw.Type(), nil))
	applyDeletion(ctx, k, client, req.Plan, &resp.State, &resp.Diagnostics)
}

func updateDeletion[M, D any](ctx context.Context, k deletionKind[M, D], client *registry.Client, now func() time.Time, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	recordsOf(client, now).forget(k.names().typeName, req.Config.Raw, req.State.Raw)
	applyDeletion(ctx, k, client, req.Plan, &resp.State, &resp.Diagnostics)
}

// applyDeletion performs exactly the deletion in the plan, which is known
// here even when the configuration was not at plan time: Terraform plans
// again during apply, with every value known (deletion_plan.go).
func applyDeletion[M, D any](ctx context.Context, k deletionKind[M, D], client *registry.Client, planned tfsdk.Plan, state *tfsdk.State, diags *diag.Diagnostics) {
	var plan M
	diags.Append(planned.Get(ctx, &plan)...)
	if diags.HasError() {
		return
	}
	d := k.planned(ctx, plan, diags)
	if diags.HasError() {
		return
	}
	report, err := k.execute(ctx, client, d)
	if err := reportApplied(report, err, diags); err != nil {
		diags.AddError(k.names().executeError, err.Error())
	}
	if diags.HasError() { // also a loss alone (reportApplied)
		return
	}
	diags.Append(state.Set(ctx, &plan)...)
}

// readDeletion records in pending what the next apply must delete again.
func readDeletion[M, D any](ctx context.Context, k deletionKind[M, D], client *registry.Client, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state M
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := k.refresh(ctx, &state, client, &resp.Diagnostics); err != nil {
		resp.Diagnostics.AddError("Cannot check the registry", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}
