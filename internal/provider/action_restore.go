package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/actionvalidator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

var (
	_ action.ActionWithConfigure        = &RestoreAction{}
	_ action.ActionWithModifyPlan       = &RestoreAction{}
	_ action.ActionWithConfigValidators = &RestoreAction{}
	_ action.ActionWithValidateConfig   = &RestoreAction{}
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
			"overwrite_moved_tags": schema.BoolAttribute{Optional: true, MarkdownDescription: restoreDescriptions["overwrite_moved_tags"] + " " + actionOverwriteNote},
		},
	}
}

// actionOverwriteNote is what overwrite_moved_tags means for the action.
// Its invoke is given the configuration alone and plans again, so it
// cannot tell which plan it applies: a saved plan (`plan -invoke -out`)
// could move back a tag pushed onto a release after the plan the user
// reviewed (reviews 54 to 56 each found a way through records kept in
// cache_dir). Moving a tag back needs a plan that carries where the tag
// was: the resource's moved_tag_digests. So the action refuses it.
const actionOverwriteNote = "The action does not move tags back: only `false` is accepted. Its invoke is given the configuration alone and " +
	"plans again, so it cannot tell which plan it applies, and could move back a tag pushed after the plan you reviewed. " +
	"Use the resource `registry_restore`, whose plan carries where each moved tag is (`moved_tag_digests`). See the [Undo guide](../guides/undo.md)."

func (a *RestoreAction) ConfigValidators(context.Context) []action.ConfigValidator {
	return []action.ConfigValidator{actionvalidator.ExactlyOneOf(restoreChoices...)}
}

// ValidateConfig refuses overwrite_moved_tags = true (actionOverwriteNote).
func (a *RestoreAction) ValidateConfig(ctx context.Context, req action.ValidateConfigRequest, resp *action.ValidateConfigResponse) {
	var overwrite types.Bool
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("overwrite_moved_tags"), &overwrite)...)
	refuseMovingBack(overwrite, &resp.Diagnostics)
}

// refuseMovingBack is the action's error for overwrite_moved_tags = true,
// at validation and, should the value only be known later, at plan.
func refuseMovingBack(overwrite types.Bool, diags *diag.Diagnostics) {
	if overwrite.ValueBool() {
		diags.AddAttributeError(path.Root("overwrite_moved_tags"), "The restore action does not move tags back",
			"The action's invoke is given its configuration alone and plans again, so it cannot tell which plan it applies: a saved plan "+
				"could move back a tag pushed onto another image after the plan you reviewed. Remove overwrite_moved_tags (the action then "+
				"leaves a moved tag where it is, and restores the rest), or use the resource registry_restore with overwrite_moved_tags = true: "+
				"its plan carries where each moved tag is (moved_tag_digests), and its apply moves a tag back only from there.")
	}
}

func (a *RestoreAction) Configure(_ context.Context, req action.ConfigureRequest, resp *action.ConfigureResponse) {
	a.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan plans the restore, so that one that cannot happen (blobs
// freed, nothing journaled) fails the plan, and says what it leaves.
// Invoke plans again.
func (a *RestoreAction) ModifyPlan(ctx context.Context, req action.ModifyPlanRequest, resp *action.ModifyPlanResponse) {
	if a.client == nil || !req.Config.Raw.IsFullyKnown() {
		return
	}
	if planned, _, ok := a.plan(ctx, req.Config, &resp.Diagnostics); ok {
		warnRestore(planned, actionMovesBack, &resp.Diagnostics)
	}
}

// actionMovesBack is how a moved tag is moved back, for the action.
const actionMovesBack = "To point them back at the restored images, use the resource registry_restore with overwrite_moved_tags = true " +
	"(the action does not move tags back)."

func (a *RestoreAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	planned, sel, ok := a.plan(ctx, req.Config, &resp.Diagnostics)
	if !ok {
		return
	}
	if checkRestorable(ctx, a.client, planned, &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	progress := func(message string) { resp.SendProgress(action.InvokeProgressEvent{Message: message}) }
	if err := a.client.ExecuteRestore(ctx, planned, progress); err != nil {
		resp.Diagnostics.AddError("Cannot restore", err.Error())
		return
	}
	leftMoved(planned, sel.Tags, &resp.Diagnostics)
}

// leftMoved says what the invoke's own plan left: the invoke plans again,
// and a tag pushed onto another image since the plan the user reviewed is
// a moved tag now, left where it is (review 57). A tag the configuration
// names (tags) was asked for: the invoke fails naming it, as the
// resource's apply does; any other is a warning, as in the plan.
func leftMoved(planned registry.Restore, asked []string, diags *diag.Diagnostics) {
	warnRestore(planned, actionMovesBack, diags)
	var named []string
	for _, img := range planned.Images {
		for _, tag := range img.MovedTags {
			if slices.Contains(asked, tag) {
				named = append(named, fmt.Sprintf("%s:%s (on %s)", img.Repository, tag, img.MovedTo[tag]))
			}
		}
	}
	if len(named) > 0 {
		diags.AddError("Cannot restore every tag asked for",
			fmt.Sprintf("Restored everything else, but %s now point at other images (pushed since the deletion, or since the plan) and were left there. %s",
				strings.Join(named, ", "), actionMovesBack))
	}
}

// plan plans the restore the configuration selects.
func (a *RestoreAction) plan(ctx context.Context, config tfsdk.Config, diags *diag.Diagnostics) (registry.Restore, registry.RestoreSelection, bool) {
	var s restoreSelection
	if diags.Append(config.Get(ctx, &s)...); diags.HasError() {
		return registry.Restore{}, registry.RestoreSelection{}, false
	}
	if refuseMovingBack(s.OverwriteMovedTags, diags); diags.HasError() {
		return registry.Restore{}, registry.RestoreSelection{}, false
	}
	sel := s.selection(ctx, diags)
	planned, err := planRestore(ctx, a.client, sel)
	if err != nil {
		diags.AddError("Cannot plan the restore", err.Error())
	}
	return planned, sel, err == nil && !diags.HasError()
}
