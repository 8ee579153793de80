package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/actionvalidator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

var (
	_ action.ActionWithConfigure        = &RestoreAction{}
	_ action.ActionWithModifyPlan       = &RestoreAction{}
	_ action.ActionWithConfigValidators = &RestoreAction{}
)

// RestoreAction restores what applies deleted, on demand (Terraform >=
// 1.14: `terraform apply -invoke=action.registry_restore.NAME`),
// reporting each image and tag it puts back.
type RestoreAction struct {
	client *registry.Client
}

func NewRestoreAction() action.Action { return &RestoreAction{} }

func (a *RestoreAction) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_restore"
}

func (a *RestoreAction) Schema(_ context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Restores images that applies deleted, now, reporting each image and tag it puts back. Requires Terraform 1.14 or later; " +
			"the `registry_restore` resource does the same as a reviewed plan, under any CLI. " + restoreDescription,
		Attributes: map[string]schema.Attribute{
			"repository": schema.StringAttribute{
				Optional: true, MarkdownDescription: restoreDescriptions["repository"],
				Validators: restoreRepositoryValidators,
			},
			"tags": schema.SetAttribute{
				Optional: true, ElementType: types.StringType, MarkdownDescription: restoreDescriptions["tags"],
				Validators: restoreTagsValidators,
			},
			"digests": schema.SetAttribute{
				Optional: true, ElementType: types.StringType, MarkdownDescription: restoreDescriptions["digests"],
				Validators: restoreDigestsValidators,
			},
			"apply_id": schema.StringAttribute{
				Optional: true, MarkdownDescription: restoreDescriptions["apply_id"],
				Validators: restoreApplyIDValidators,
			},
			"overwrite_moved_tags": schema.BoolAttribute{Optional: true, MarkdownDescription: restoreDescriptions["overwrite_moved_tags"]},
		},
	}
}

func (a *RestoreAction) ConfigValidators(context.Context) []action.ConfigValidator {
	return []action.ConfigValidator{actionvalidator.ExactlyOneOf(restoreChoices...)}
}

func (a *RestoreAction) Configure(_ context.Context, req action.ConfigureRequest, resp *action.ConfigureResponse) {
	a.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan plans the restore, so that one that cannot happen (blobs
// freed, nothing journaled) fails the plan. Invoke plans again.
func (a *RestoreAction) ModifyPlan(ctx context.Context, req action.ModifyPlanRequest, resp *action.ModifyPlanResponse) {
	if a.client == nil || !req.Config.Raw.IsFullyKnown() {
		return
	}
	if planned, ok := a.plan(ctx, req.Config, &resp.Diagnostics); ok {
		warnRestore(planned, &resp.Diagnostics)
	}
}

func (a *RestoreAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	planned, ok := a.plan(ctx, req.Config, &resp.Diagnostics)
	if !ok {
		return
	}
	if checkRestorable(ctx, a.client, planned, &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	progress := func(message string) { resp.SendProgress(action.InvokeProgressEvent{Message: message}) }
	if err := a.client.ExecuteRestore(ctx, planned, progress); err != nil {
		resp.Diagnostics.AddError("Cannot restore", err.Error())
	}
}

// plan plans the restore the configuration selects.
func (a *RestoreAction) plan(ctx context.Context, config tfsdk.Config, diags *diag.Diagnostics) (registry.Restore, bool) {
	var s restoreSelection
	if diags.Append(config.Get(ctx, &s)...); diags.HasError() {
		return registry.Restore{}, false
	}
	planned, err := planRestore(ctx, a.client, s.selection(ctx, diags))
	if err != nil {
		diags.AddError("Cannot plan the restore", err.Error())
	}
	return planned, err == nil && !diags.HasError()
}
