package provider

import (
	"context"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

var (
	_ resource.ResourceWithConfigure        = &RestoreResource{}
	_ resource.ResourceWithModifyPlan       = &RestoreResource{}
	_ resource.ResourceWithConfigValidators = &RestoreResource{}
)

// RestoreResource restores what applies deleted, from their journal, as a
// reviewed plan: the plan lists each image and the tags it gets back.
type RestoreResource struct {
	client *registry.Client
	now    func() time.Time
}

func NewRestoreResource() resource.Resource { return &RestoreResource{} }

type restoreModel struct {
	restoreSelection
	ID     types.String `tfsdk:"id"`
	Images types.List   `tfsdk:"images"`
}

// restoreImage is one image of the plan.
type restoreImage struct {
	Repository types.String `tfsdk:"repository"`
	Digest     types.String `tfsdk:"digest"`
	MediaType  types.String `tfsdk:"media_type"`
	ApplyID    types.String `tfsdk:"apply_id"`
	DeletedAt  types.String `tfsdk:"deleted_at"`
	Size       types.Int64  `tfsdk:"size"`
	Tags       types.List   `tfsdk:"tags"`
	MovedTags  types.List   `tfsdk:"moved_tags"`
	MovedTo    types.Map    `tfsdk:"moved_tag_digests"`
	Present    types.Bool   `tfsdk:"present"`
	Reason     types.String `tfsdk:"reason"`
}

var restoreImageType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"repository":        types.StringType,
	"digest":            types.StringType,
	"media_type":        types.StringType,
	"apply_id":          types.StringType,
	"deleted_at":        types.StringType,
	"size":              types.Int64Type,
	"tags":              types.ListType{ElemType: types.StringType},
	"moved_tags":        types.ListType{ElemType: types.StringType},
	"moved_tag_digests": types.MapType{ElemType: types.StringType},
	"present":           types.BoolType,
	"reason":            types.StringType,
}}

const restoreType = "registry_restore"

func (r *RestoreResource) Metadata(_ context.Context, _ resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = restoreType
}

func (r *RestoreResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	computed := func(description string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: description}
	}
	tagList := func(description string) schema.ListAttribute {
		return schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: description}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Restores images that applies deleted, as a reviewed change: the plan lists each image (`images`), whether it is " +
			"in the registry again, and the tags it gets back; the apply restores exactly that. " + restoreDescription + " " +
			"Creating the resource restores once: later plans are empty, also if the images are deleted again. Destroying it deletes nothing. " +
			"Fix or remove the policy that deleted them first, or its next apply deletes them again.",
		Attributes: map[string]schema.Attribute{
			"id": computed("What the restore selects: `<apply_id>`, `<repository>:<tag>,...` or the digests."),
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
			"overwrite_moved_tags": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: restoreDescriptions["overwrite_moved_tags"],
			},
			"images": schema.ListNestedAttribute{
				Computed: true,
				MarkdownDescription: "What the apply restores, in order (by repository; an index after its children, a signature after its image). " +
					"Known at plan time.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"repository": computed("Repository."),
					"digest":     computed("Manifest digest."),
					"media_type": computed("Manifest media type."),
					"apply_id":   computed("The apply that deleted it."),
					"deleted_at": computed("When it was deleted (RFC 3339)."),
					"size":       schema.Int64Attribute{Computed: true, MarkdownDescription: "Bytes the manifest and its config and layers (an index: its child manifests) hold."},
					"tags":       tagList("Tags the apply points at it: those gone now and, with `overwrite_moved_tags`, those moved to another image."),
					"moved_tags": tagList("Tags it had that now point at another image, pushed since the deletion. Left there unless `overwrite_moved_tags`."),
					"moved_tag_digests": schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Each tag of `moved_tags`, with the digest it " +
						"points at when planned. With `overwrite_moved_tags`, the apply moves a tag back only while it still points there: a tag pushed onto " +
						"another image since the plan is left where it is, and the apply fails naming it after restoring the rest."},
					"present": schema.BoolAttribute{Computed: true, MarkdownDescription: "The registry answers that it serves the manifest already: only its tags change what it serves. " +
						"The apply writes the manifest's journaled bytes again all the same, as for every image listed: a registry can answer from its cache for a manifest its storage no longer holds."},
					"reason": computed("Empty for an image the configuration selects; otherwise why it comes too: `a child of <index>`, `a referrer of <image>`."),
				}},
			},
		},
	}
}

func (r *RestoreResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{resourcevalidator.ExactlyOneOf(restoreChoices...)}
}

func (r *RestoreResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client, r.now = clientFrom(req.ProviderData, &resp.Diagnostics), clockFrom(req.ProviderData)
}

// restoreKind is registry_restore in the lifecycle the deletion resources
// share (deletion_lifecycle.go): planned from the registry when created or
// reconfigured, repeated as recorded, performed exactly. Nothing is
// pending after it: a restore runs once.
type restoreKind struct{}

var restoreLifecycle deletionKind[restoreModel, registry.Restore] = restoreKind{}

func (restoreKind) names() kindNames {
	return kindNames{typeName: restoreType, planError: "Cannot plan the restore", executeError: "Cannot restore"}
}

func (restoreKind) plan(ctx context.Context, c *registry.Client, m restoreModel, diags *diag.Diagnostics) (registry.Restore, error) {
	return planRestore(ctx, c, m.selection(ctx, diags))
}

func (restoreKind) check(_ context.Context, _ restoreModel, planned registry.Restore, diags *diag.Diagnostics) bool {
	warnRestore(planned, "Set overwrite_moved_tags = true to point them back at the restored images.", diags)
	// Every manifest listed is written, also one the registry answers
	// for already (registry.Client.ExecuteRestore): the plan checks the
	// credentials may push even when it shows no change.
	return len(planned.Images) > 0
}

func (restoreKind) checkWritable(ctx context.Context, c *registry.Client, _ tfsdk.Plan, planned registry.Restore, diags *diag.Diagnostics) {
	checkRestorable(ctx, c, planned, diags)
}

func (restoreKind) warnDestroy(diags *diag.Diagnostics) { warnDestroyKeepsRestored(diags) }

func (restoreKind) record(ctx context.Context, m *restoreModel, planned registry.Restore, diags *diag.Diagnostics) {
	m.setRestore(ctx, planned, diags)
}

func (restoreKind) hasPending(restoreModel) bool { return false } // so pending and refresh are never called

func (restoreKind) pending(context.Context, restoreModel, *diag.Diagnostics) registry.Restore {
	return registry.Restore{}
}

func (restoreKind) planned(ctx context.Context, m restoreModel, diags *diag.Diagnostics) registry.Restore {
	return m.restore(ctx, diags)
}

func (restoreKind) execute(ctx context.Context, c *registry.Client, planned registry.Restore) (registry.Report, error) {
	return registry.Report{}, c.ExecuteRestore(ctx, planned, func(string) {}) // deletes nothing: its error says all
}

func (restoreKind) refresh(context.Context, *restoreModel, *registry.Client, *diag.Diagnostics) error {
	return nil
}

func warnDestroyKeepsRestored(diags *diag.Diagnostics) {
	diags.AddWarning("Destroying a restore deletes nothing",
		"What the restore put back stays in the registry. To delete it again, apply a retention policy or registry_manifest_deletion.")
}

func (r *RestoreResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	modifyDeletionPlan(ctx, restoreLifecycle, r.client, r.now, req, resp)
}

func (m *restoreModel) setRestore(ctx context.Context, planned registry.Restore, diags *diag.Diagnostics) {
	m.ID = types.StringValue(m.describe(ctx, diags))
	images := make([]restoreImage, len(planned.Images))
	for i, img := range planned.Images {
		images[i] = restoreImage{
			Repository: types.StringValue(img.Repository),
			Digest:     types.StringValue(img.Digest),
			MediaType:  types.StringValue(img.MediaType),
			ApplyID:    types.StringValue(img.ApplyID),
			DeletedAt:  types.StringValue(img.DeletedAt.UTC().Format(time.RFC3339)),
			Size:       types.Int64Value(img.Size),
			Tags:       stringList(img.Tags, diags),
			MovedTags:  stringList(img.MovedTags, diags),
			MovedTo:    stringMap(ctx, movedTo(img), diags),
			Present:    types.BoolValue(img.Present),
			Reason:     types.StringValue(img.Why),
		}
	}
	list, d := types.ListValueFrom(ctx, restoreImageType, images)
	diags.Append(d...)
	m.Images = list
}

// movedTo is where img's moved tags point when planned: never null, so
// that a plan without moved tags shows {}.
func movedTo(img registry.RestoreImage) map[string]string {
	if img.MovedTo == nil {
		return map[string]string{}
	}
	return img.MovedTo
}

// describe names what the configuration selects, as its id.
func (m restoreModel) describe(ctx context.Context, diags *diag.Diagnostics) string {
	sel := m.selection(ctx, diags)
	switch {
	case len(sel.Tags) > 0:
		return sel.Repository + ":" + strings.Join(sel.Tags, ",")
	case len(sel.Digests) > 0:
		return strings.Join(sel.Digests, ",")
	}
	return sel.ApplyID
}

// restore is the restore the plan recorded.
func (m restoreModel) restore(ctx context.Context, diags *diag.Diagnostics) registry.Restore {
	var images []restoreImage
	diags.Append(m.Images.ElementsAs(ctx, &images, false)...)
	planned := registry.Restore{OverwriteMovedTags: m.OverwriteMovedTags.ValueBool(), Images: make([]registry.RestoreImage, len(images))}
	for i, img := range images {
		planned.Images[i] = registry.RestoreImage{
			Repository: img.Repository.ValueString(), Digest: img.Digest.ValueString(), MediaType: img.MediaType.ValueString(),
			ApplyID: img.ApplyID.ValueString(), Size: img.Size.ValueInt64(), Present: img.Present.ValueBool(), Why: img.Reason.ValueString(),
		}
		diags.Append(img.Tags.ElementsAs(ctx, &planned.Images[i].Tags, false)...)
		diags.Append(img.MovedTags.ElementsAs(ctx, &planned.Images[i].MovedTags, false)...)
		if !img.MovedTo.IsNull() { // null in a state written before review 54: no moved tag is moved back then
			diags.Append(img.MovedTo.ElementsAs(ctx, &planned.Images[i].MovedTo, false)...)
		}
	}
	return planned
}

func (r *RestoreResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	createDeletion(ctx, restoreLifecycle, r.client, r.now, req, resp)
}

func (r *RestoreResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateDeletion(ctx, restoreLifecycle, r.client, r.now, req, resp)
}

func (r *RestoreResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {
	// A restore runs once: nothing to refresh.
}

func (r *RestoreResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
	// Destroy deletes nothing: ModifyPlan warned.
}
