package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

// What registry_restore, the resource and the action, restore: the
// attributes they share, and the plan they both make.

// restoreSelection is the configuration the resource and the action share.
type restoreSelection struct {
	Repository         types.String `tfsdk:"repository"`
	Tags               types.Set    `tfsdk:"tags"`
	Digests            types.Set    `tfsdk:"digests"`
	ApplyID            types.String `tfsdk:"apply_id"`
	OverwriteMovedTags types.Bool   `tfsdk:"overwrite_moved_tags"`
}

// restoreChoices are the attributes of which exactly one selects.
var restoreChoices = []path.Expression{path.MatchRoot("tags"), path.MatchRoot("digests"), path.MatchRoot("apply_id")}

var restoreDescriptions = map[string]string{
	"repository": "Repository the deleted images were in, e.g. `team/app`. Required with `tags`; with `digests` or `apply_id` it narrows them to this repository.",
	"tags": "Restore the image each of these tags was on when an apply deleted it (the newest such deletion), and put back only these tags. " +
		"Exactly one of `tags`, `digests` or `apply_id`.",
	"digests": "Restore these manifests (the newest deletion of each, in every repository unless `repository` is set), with every tag they had. " +
		"A tag two of the restored images had goes back to the newer deletion only (a tag names one image), with a warning naming both.",
	"apply_id": "Restore everything one apply deleted (the `apply_id` the data source `registry_journal` lists), with every tag it had. " +
		"A tag two of the restored images had goes back to the newer deletion only (a tag names one image), with a warning naming both.",
	"overwrite_moved_tags": "Point a tag that now names another image (pushed since the deletion) back at the restored one. " +
		"Default `false`: such a tag is left where it is, and the plan lists it in `moved_tags`. Only the tags the plan lists as " +
		"moved are moved back, and only while they still point at the image the plan showed them on: a tag the plan showed gone, or moved, " +
		"and that someone pushed between the plan and the apply is left where it is, and named in the apply's error, after the rest is restored.",
}

// Validators of the attributes the resource and the action share.
var (
	restoreRepositoryValidators = []validator.String{repositoryValidator}
	restoreTagsValidators       = []validator.Set{setvalidator.SizeAtLeast(1), setvalidator.ValueStringsAre(tagValidator),
		setvalidator.AlsoRequires(path.MatchRoot("repository"))}
	restoreDigestsValidators = []validator.Set{setvalidator.SizeAtLeast(1), setvalidator.ValueStringsAre(digestValidator)}
	restoreApplyIDValidators = []validator.String{stringvalidator.LengthAtLeast(1)}
)

// restoreDescription is what the resource and the action say of
// themselves, after their first sentence.
const restoreDescription = "Restores from the journal that every apply of a retention policy or an explicit deletion stores in the registry " +
	"(in `terraform-provider-registry/journal`): each manifest is put back by digest from its journaled bytes, then its tags. " +
	"With an index come its deleted children, with an image the signatures and attestations deleted with it. " +
	"This works until garbage collection frees the deleted images' blobs: a restore that needs a freed blob fails, naming it, and restores nothing. " +
	"See the [Undo guide](../guides/undo.md)."

func (s restoreSelection) selection(ctx context.Context, diags *diag.Diagnostics) registry.RestoreSelection {
	sel := registry.RestoreSelection{
		Repository: s.Repository.ValueString(), ApplyID: s.ApplyID.ValueString(), OverwriteMovedTags: s.OverwriteMovedTags.ValueBool(),
	}
	diags.Append(s.Tags.ElementsAs(ctx, &sel.Tags, true)...)
	diags.Append(s.Digests.ElementsAs(ctx, &sel.Digests, true)...)
	slices.Sort(sel.Tags)
	slices.Sort(sel.Digests)
	return sel
}

// planRestore plans a restore and refuses one that cannot happen: a
// deletion the journal does not hold, blobs garbage collection freed.
func planRestore(ctx context.Context, client *registry.Client, sel registry.RestoreSelection) (registry.Restore, error) {
	planned, err := client.PlanRestore(ctx, sel)
	if err == nil {
		err = planned.ExpiredError()
	}
	return planned, err
}

// warnRestore says which tags the restore leaves on another image (and
// how to move them back: movesBack), or moves back, which it gives back to
// one of two images that had them, and when it has nothing to do.
func warnRestore(planned registry.Restore, movesBack string, diags *diag.Diagnostics) {
	var moved, toNewer []string
	for _, img := range planned.Images {
		for _, tag := range img.MovedTags {
			moved = append(moved, fmt.Sprintf("%s:%s (on %s)", img.Repository, tag, img.MovedTo[tag]))
		}
		for _, tag := range slices.Sorted(maps.Keys(img.TagsToNewer)) {
			toNewer = append(toNewer, fmt.Sprintf("%s:%s goes back to %s, not to %s", img.Repository, tag, img.TagsToNewer[tag], img.Digest))
		}
	}
	if len(toNewer) > 0 {
		diags.AddWarning("A tag two restored images had goes back to one of them",
			fmt.Sprintf("%s: both images had the tag when they were deleted, and a tag names one image, so the restore gives it back to "+
				"the newer deletion only (as a restore by tags does); the other image is restored without it.", strings.Join(toNewer, "; ")))
	}
	switch {
	case len(moved) > 0 && planned.OverwriteMovedTags:
		diags.AddWarning("The restore moves tags back",
			fmt.Sprintf("%s now point at other images, pushed since the deletion; overwrite_moved_tags = true points them back at the restored ones. "+
				"Only off those images: a tag pushed again after this plan is left where it is, and named.", strings.Join(moved, ", ")))
	case len(moved) > 0:
		diags.AddWarning("Tags pushed since the deletion are left where they are",
			fmt.Sprintf("%s now point at other images; the restore leaves them there (moved_tags). %s", strings.Join(moved, ", "), movesBack))
	}
	if !planned.Changes() {
		diags.AddWarning("Nothing to restore", "Every image selected is in the registry again, with its tags. "+
			"The restore writes their manifests' journaled bytes again all the same: a registry can answer from its cache for a manifest its storage no longer holds.")
	}
}

// checkRestorable asks each repository the restore writes to whether the
// credentials may push there.
func checkRestorable(ctx context.Context, client *registry.Client, planned registry.Restore, diags *diag.Diagnostics) {
	if err := firstError(client.CheckEach(ctx, planned.Repositories(), client.CheckRestorable)); err != nil {
		diags.AddError("The registry will not accept the restore", err.Error())
	}
}
