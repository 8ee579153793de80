package provider

import (
	"context"
	"encoding/json"
	"os"

	"github.com/hashicorp/terraform-plugin-framework-validators/actionvalidator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

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
// freed, nothing journaled) fails the plan, and records where the plan
// saw each moved tag (movedRecord). Invoke plans again, and moves back
// only the tags the plan showed moved, off the images it showed them on.
func (a *RestoreAction) ModifyPlan(ctx context.Context, req action.ModifyPlanRequest, resp *action.ModifyPlanResponse) {
	if a.client == nil || !req.Config.Raw.IsFullyKnown() {
		return
	}
	if planned, ok := a.plan(ctx, req.Config, &resp.Diagnostics); ok {
		warnRestore(planned, &resp.Diagnostics)
		a.records().saveMoved(req.Config.Raw, planned)
	}
}

func (a *RestoreAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	planned, ok := a.plan(ctx, req.Config, &resp.Diagnostics)
	if !ok {
		return
	}
	records := a.records()
	defer records.forget(restoreActionRecord, req.Config.Raw, noState)
	records.reviewMoved(req.Config.Raw, &planned)
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

func (a *RestoreAction) records() planRecords { return recordsOf(a.client, nil) }

// An action has no planned value: Invoke is given the configuration
// alone, and plans the restore again. Where the plan the user reviewed
// saw each moved tag is recorded in cache_dir instead (as a resource's
// plan is: plan_record.go), keyed by the configuration, so that
// overwrite_moved_tags moves back only what was reviewed: a tag pushed
// onto another image between the plan and the invoke is left there, and
// named (review 54). Without a record (cache_dir = "") Invoke's own plan
// is what it moves back, as checked once more just before each tag.
const restoreActionRecord = "registry_restore action"

var noState = tftypes.NewValue(tftypes.DynamicPseudoType, nil)

// movedRecord is, per image (repository@digest@apply), where the plan saw
// each moved tag.
type movedRecord map[string]map[string]string

func movedKey(img registry.RestoreImage) string {
	return img.Repository + "@" + img.Digest + "@" + img.ApplyID
}

// saveMoved records where the plan saw the moved tags, when the restore
// moves them back (forgets any record otherwise). Best effort, as every
// plan record.
func (p planRecords) saveMoved(config tftypes.Value, planned registry.Restore) {
	path, ok := p.path(restoreActionRecord, config, noState)
	if !ok {
		return
	}
	if !planned.OverwriteMovedTags {
		_ = os.Remove(path)
		return
	}
	record := movedRecord{}
	for _, img := range planned.Images {
		record[movedKey(img)] = movedTo(img)
	}
	data, err := json.Marshal(record)
	if err != nil {
		return
	}
	p.prune()
	_ = registry.WriteAtomic(path, data)
}

// reviewMoved narrows Invoke's plan to what the recorded plan showed: a
// tag Invoke finds moved is moved back only off the image the plan saw it
// on, and not at all when the plan did not show it moved (gone then, or
// an image the plan did not list). Without a record the plan is left as
// it is.
func (p planRecords) reviewMoved(config tftypes.Value, planned *registry.Restore) {
	if !planned.OverwriteMovedTags {
		return
	}
	path, ok := p.path(restoreActionRecord, config, noState)
	if !ok {
		return
	}
	info, err := os.Stat(path)
	if err != nil || p.now().Sub(info.ModTime()) > planRecordTTL {
		return
	}
	data, err := os.ReadFile(path)
	var record movedRecord
	if err != nil || json.Unmarshal(data, &record) != nil {
		return // a damaged record is no record
	}
	for i, img := range planned.Images {
		seen := record[movedKey(img)]
		var moved []string
		to := map[string]string{}
		for _, tag := range img.MovedTags {
			if digest, ok := seen[tag]; ok {
				moved, to[tag] = append(moved, tag), digest
			}
		}
		planned.Images[i].MovedTags, planned.Images[i].MovedTo = moved, to
	}
}
