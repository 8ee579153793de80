package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

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
			"overwrite_moved_tags": schema.BoolAttribute{Optional: true, MarkdownDescription: restoreDescriptions["overwrite_moved_tags"] + " " + actionOverwriteNote},
		},
	}
}

// actionOverwriteNote is what overwrite_moved_tags means for the action,
// which has no planned value (restoreActionRecord).
const actionOverwriteNote = "The invoke, which plans again and cannot tell which plan it applies, moves a tag back only when every plan of this " +
	"action configuration recorded in `cache_dir` since its last invoke (at least one) saw it on the image it is on now; otherwise " +
	"(another plan saw it elsewhere, or none is recorded: `cache_dir = \"\"`, a plan made on another machine or over 24 hours ago, or one an " +
	"earlier invoke consumed) it is left where it is, and the invoke fails naming it after restoring the rest: plan again. " +
	"See the [Undo guide](../guides/undo.md)."

func (a *RestoreAction) ConfigValidators(context.Context) []action.ConfigValidator {
	return []action.ConfigValidator{actionvalidator.ExactlyOneOf(restoreChoices...)}
}

func (a *RestoreAction) Configure(_ context.Context, req action.ConfigureRequest, resp *action.ConfigureResponse) {
	a.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan plans the restore, so that one that cannot happen (blobs
// freed, nothing journaled) fails the plan, and records where the plan
// saw each moved tag (actionPlanRecord). Invoke plans again, and moves
// back only a moved tag every plan recorded since the last invoke saw
// where it is then.
func (a *RestoreAction) ModifyPlan(ctx context.Context, req action.ModifyPlanRequest, resp *action.ModifyPlanResponse) {
	if a.client == nil || !req.Config.Raw.IsFullyKnown() {
		return
	}
	if planned, ok := a.plan(ctx, req.Config, &resp.Diagnostics); ok {
		warnRestore(planned, &resp.Diagnostics)
		err := a.records().saveMoved(req.Config.Raw, planned)
		if err != nil && hasMovedTags(planned) {
			resp.Diagnostics.AddWarning("The invoke will leave the moved tags where they are",
				fmt.Sprintf("This plan could not be recorded (%v), and without a record of where the plan saw each moved tag the invoke "+
					"moves none back: it restores the rest, then fails naming them. Set a cache_dir the provider can write, "+
					"or use the resource registry_restore, whose plan carries where each moved tag was (moved_tag_digests).", err))
		}
	}
}

func (a *RestoreAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	planned, ok := a.plan(ctx, req.Config, &resp.Diagnostics)
	if !ok {
		return
	}
	why := a.records().reviewMoved(req.Config.Raw, &planned)
	if checkRestorable(ctx, a.client, planned, &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	progress := func(message string) { resp.SendProgress(action.InvokeProgressEvent{Message: message}) }
	switch err := a.client.ExecuteRestore(ctx, planned, progress); {
	case err != nil && why != "":
		resp.Diagnostics.AddError("Cannot restore", err.Error()+". "+why)
	case err != nil:
		resp.Diagnostics.AddError("Cannot restore", err.Error())
	case why != "": // the tags left went where the restore put them meanwhile
		resp.Diagnostics.AddWarning("Moved tags were not moved back", why)
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
// alone, and plans the restore again. A saved plan (`plan -invoke -out`)
// could then move back a tag pushed onto another image after the plan
// the user reviewed (review 54). So every plan of the action records, in
// cache_dir (the plans folder, as a resource's plan is: plan_record.go),
// where it saw each moved tag, in a file of its own named by the registry
// and the configuration (restoreActionRecord) and by when it was made.
// Invoke cannot tell which of these plans it applies (Terraform gives it
// the configuration alone), so with overwrite_moved_tags it moves a moved
// tag back only when at least one plan is recorded since the last invoke
// of the configuration and every such plan saw the tag on the image it is
// on now. Otherwise (no record: cache_dir = "", the plan made on another
// machine, older than planRecordTTL, or taken by another invoke; plans
// that disagree: another plan of the same configuration, here or in
// another working directory sharing cache_dir) the tag is left where it
// is, and the invoke fails naming it after restoring the rest. Invoke
// marks the records it read as consumed (review 55): a later invoke
// needs a plan of its own.
const restoreActionRecord = "registry_restore action"

var noState = tftypes.NewValue(tftypes.DynamicPseudoType, nil)

// actionPlanRecord is what one plan of the action saw.
type actionPlanRecord struct {
	PlannedAt time.Time `json:"planned_at"`
	// Moved is, per image the plan listed (movedKey), where each moved
	// tag was: {} for an image without one.
	Moved map[string]map[string]string `json:"moved"`
}

func movedKey(img registry.RestoreImage) string {
	return img.Repository + "@" + img.Digest + "@" + img.ApplyID
}

func hasMovedTags(planned registry.Restore) bool {
	return slices.ContainsFunc(planned.Images, func(img registry.RestoreImage) bool { return len(img.MovedTags) > 0 })
}

const consumedSuffix = ".consumed"

// movedPrefix is the start of the names of the records of config's plans
// (then when each was made, and a random part).
func (p planRecords) movedPrefix(config tftypes.Value) (string, bool) {
	path, ok := p.path(restoreActionRecord, config, noState)
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".moved-", ok
}

// saveMoved records where the plan saw the moved tags, when the restore
// moves them back, next to the records of earlier plans of the same
// configuration. It says why it could not.
func (p planRecords) saveMoved(config tftypes.Value, planned registry.Restore) error {
	if !planned.OverwriteMovedTags {
		return nil // nothing is moved back: nothing to record
	}
	prefix, ok := p.movedPrefix(config)
	if !ok {
		return fmt.Errorf(`cache_dir = ""`)
	}
	record := actionPlanRecord{PlannedAt: p.now().UTC(), Moved: map[string]map[string]string{}}
	for _, img := range planned.Images {
		record.Moved[movedKey(img)] = movedTo(img)
	}
	data, err := json.Marshal(record)
	if err != nil {
		return err
	}
	random := make([]byte, 6)
	_, _ = rand.Read(random)
	p.prune()
	return registry.WriteAtomic(fmt.Sprintf("%s%020d-%s.json", prefix, record.PlannedAt.UnixNano(), hex.EncodeToString(random)), data)
}

// recordedPlans are the records of config's plans within planRecordTTL,
// oldest first: those made since the last invoke (unconsumed, nil for one
// that cannot be read), and those earlier invokes consumed.
type recordedPlans struct {
	unconsumed, consumed []*actionPlanRecord
	paths                []string // of the unconsumed
}

func (p planRecords) readMoved(prefix string) recordedPlans {
	var out recordedPlans
	entries, err := os.ReadDir(filepath.Dir(prefix))
	if err != nil {
		return out
	}
	base := filepath.Base(prefix)
	for _, e := range entries { // by name: by when each plan was made
		name := e.Name()
		if !strings.HasPrefix(name, base) {
			continue
		}
		info, err := e.Info()
		if err != nil || p.now().Sub(info.ModTime()) > planRecordTTL {
			continue
		}
		var record *actionPlanRecord
		if data, err := os.ReadFile(filepath.Join(filepath.Dir(prefix), name)); err == nil {
			if json.Unmarshal(data, &record) != nil {
				record = nil // a damaged record is a plan whose view is unknown
			}
		}
		switch {
		case strings.HasSuffix(name, consumedSuffix):
			if record != nil {
				out.consumed = append(out.consumed, record)
			}
		case strings.HasSuffix(name, ".json"):
			out.unconsumed = append(out.unconsumed, record)
			out.paths = append(out.paths, filepath.Join(filepath.Dir(prefix), name))
		}
	}
	return out
}

// reviewMoved narrows Invoke's plan to what the recorded plans showed,
// and marks those records consumed. A tag Invoke finds moved onto digest
// D is moved back only when every plan recorded since the last invoke saw
// it on D; otherwise it is left where it is and ExecuteRestore names it
// after restoring the rest, naming where a plan saw it (MovedTo), or that
// a plan saw it gone (left out of MovedTags), or that no plan recorded it
// (MovedTo ""). It returns why tags are left, "" when none is.
func (p planRecords) reviewMoved(config tftypes.Value, planned *registry.Restore) string {
	if !planned.OverwriteMovedTags || !hasMovedTags(*planned) {
		p.consumeMoved(config)
		return ""
	}
	prefix, ok := p.movedPrefix(config)
	var plans recordedPlans
	if ok {
		plans = p.readMoved(prefix)
		p.consume(plans.paths)
	}
	var left []string
	for i, img := range planned.Images {
		key := movedKey(img)
		var moved []string
		to := map[string]string{}
		for _, tag := range img.MovedTags {
			now := img.MovedTo[tag]
			if len(plans.unconsumed) > 0 && plans.all(func(r *actionPlanRecord) bool { return r != nil && r.Moved[key][tag] == now }) {
				moved, to[tag] = append(moved, tag), now
				continue
			}
			left = append(left, img.Repository+":"+tag)
			switch elsewhere, gone := plans.seen(key, tag, now); {
			case elsewhere != "":
				moved, to[tag] = append(moved, tag), elsewhere // "pushed onto <now> since the plan, which showed it on <elsewhere>"
			case gone: // "since the plan, which showed it gone"
			default:
				moved, to[tag] = append(moved, tag), "" // "the plan did not record which image it showed it on"
			}
		}
		planned.Images[i].MovedTags, planned.Images[i].MovedTo = moved, to
	}
	if len(left) == 0 {
		return ""
	}
	return movedLeftWhy(ok, plans, strings.Join(left, ", "))
}

func (r recordedPlans) all(f func(*actionPlanRecord) bool) bool {
	return !slices.ContainsFunc(r.unconsumed, func(rec *actionPlanRecord) bool { return !f(rec) })
}

// seen is where the newest recorded plan that did not see tag on now saw
// it (the unconsumed first, then the consumed), or whether it saw it gone.
func (r recordedPlans) seen(key, tag, now string) (elsewhere string, gone bool) {
	for _, records := range [][]*actionPlanRecord{r.unconsumed, r.consumed} {
		for _, rec := range slices.Backward(records) {
			if rec == nil {
				continue
			}
			if digest, ok := rec.Moved[key][tag]; ok && digest != now {
				return digest, false
			}
			if _, listed := rec.Moved[key]; listed && rec.Moved[key][tag] == "" {
				gone = true
			}
		}
		if gone {
			return "", true
		}
	}
	return "", false
}

// movedLeftWhy says why the invoke left the tags it names where they are.
func movedLeftWhy(recording bool, plans recordedPlans, tags string) string {
	const again = "To move them back, plan the action again, review where the plan shows them, and apply that plan " +
		"(or `terraform apply -invoke`, which plans and invokes at once); or use the resource registry_restore, whose plan carries where each moved tag was."
	switch {
	case !recording:
		return fmt.Sprintf(`%s: the invoke moved no tag back because cache_dir = "" keeps no record of where the action's plan saw each moved tag, `+
			"and the invoke cannot know which plan it applies. %s", tags, again)
	case len(plans.unconsumed) == 0:
		return fmt.Sprintf("%s: the invoke moved no tag back because no plan of this action's configuration is recorded in cache_dir since its last invoke "+
			"(another invoke of the same configuration, here or in another configuration sharing cache_dir, used it; or the plan was made on another machine, "+
			"or more than %s ago), so where the plan it applies saw each tag is unknown. %s", tags, planRecordTTL, again)
	}
	var at []string
	for _, rec := range plans.unconsumed {
		if rec == nil {
			at = append(at, "one that cannot be read")
		} else {
			at = append(at, rec.PlannedAt.Format(time.RFC3339))
		}
	}
	return fmt.Sprintf("%s: not moved back because not every plan of this action's configuration recorded since its last invoke (%d, made at %s; "+
		"a plan of the same configuration in another working directory sharing cache_dir counts too) saw them on the image they are on now, "+
		"and the invoke cannot know which of those plans it applies. %s", tags, len(plans.unconsumed), strings.Join(at, ", "), again)
}

// consumeMoved marks every record of config's plans consumed.
func (p planRecords) consumeMoved(config tftypes.Value) {
	if prefix, ok := p.movedPrefix(config); ok {
		p.consume(p.readMoved(prefix).paths)
	}
}

func (p planRecords) consume(paths []string) {
	for _, path := range paths {
		_ = os.Rename(path, path+consumedSuffix)
	}
}
