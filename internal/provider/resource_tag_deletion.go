package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

var (
	_ resource.ResourceWithConfigure  = &TagDeletionResource{}
	_ resource.ResourceWithModifyPlan = &TagDeletionResource{}
)

// TagDeletionResource removes tags, never another tag on the same digest.
type TagDeletionResource struct {
	client *registry.Client
	now    func() time.Time
}

func NewTagDeletionResource() resource.Resource { return &TagDeletionResource{} }

type tagDeletionModel struct {
	ID                      types.String `tfsdk:"id"`
	Repository              types.String `tfsdk:"repository"`
	Tags                    types.Set    `tfsdk:"tags"`
	DeleteUntaggedManifests types.Bool   `tfsdk:"delete_untagged_manifests"`
	RemovedTags             types.Map    `tfsdk:"removed_tags"`
	DeletedManifests        types.List   `tfsdk:"deleted_manifests"`
	Pending                 types.Object `tfsdk:"pending"`
}

// tagPending is a deletion found by refresh, for the next apply.
type tagPending struct {
	Tags      types.Map  `tfsdk:"tags"`
	Manifests types.List `tfsdk:"manifests"`
}

var tagPendingType = map[string]attr.Type{
	"tags":      types.MapType{ElemType: types.StringType},
	"manifests": types.ListType{ElemType: types.StringType},
}

const tagDeletionType = "registry_tag_deletion"

func (r *TagDeletionResource) Metadata(_ context.Context, _ resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = tagDeletionType
}

func (r *TagDeletionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Removes tags from a repository and never touches another tag on the same digest: `latest` survives deleting " +
			"`v1.9` even when both point at one image. Uses the registry's tag-delete API (distribution v3); on registries without it " +
			"(distribution 2.8) the tag is first moved onto a unique empty placeholder, which is then deleted by digest. " +
			"Removing a tag frees no space: the image stays until `delete_untagged_manifests` deletes it and garbage collection runs. " +
			"Tags that do not exist are skipped; a tag that reappears is removed again by the next apply. Destroying this resource only forgets it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The repository.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"repository": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Repository path, e.g. `team/app`; never one of the provider's own (`terraform-provider-registry/...`).",
				Validators:          []validator.String{deletableRepositoryValidator},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"tags": schema.SetAttribute{
				Required:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "Tags to remove.",
				Validators:          []validator.Set{setvalidator.SizeAtLeast(1), setvalidator.ValueStringsAre(tagValidator)},
			},
			"delete_untagged_manifests": schema.BoolAttribute{
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
				MarkdownDescription: "Also delete, by digest, each manifest these tags leave with no tag at all (with its referrers and the index children nothing else references). Default `false`.",
			},
			"removed_tags": schema.MapAttribute{
				Computed:    true,
				ElementType: types.StringType,
				MarkdownDescription: "The tags this apply removes, each with the digest it points at. If a tag points elsewhere at apply time, nothing is deleted. " +
					"A tag the registry lists without a manifest (left by a push that raced a deletion of its digest) maps to `\"\"`: it is removed only while it still resolves to nothing.",
			},
			"deleted_manifests": schema.ListAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "With `delete_untagged_manifests`: digests this apply deletes, in order (the untagged manifest, its children, then its referrers: a subject goes before what refers to it).",
			},
			"pending": schema.SingleNestedAttribute{
				Computed: true,
				MarkdownDescription: "Set by refresh when some of `tags` are in the registry again: what the next apply removes. " +
					"Null when there is nothing to remove.",
				Attributes: map[string]schema.Attribute{
					"tags":      schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Tags to remove, with their digests."},
					"manifests": schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Manifests to delete as left untagged."},
				},
			},
		},
	}
}

func (r *TagDeletionResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client, r.now = clientFrom(req.ProviderData, &resp.Diagnostics), clockFrom(req.ProviderData)
}

func (m tagDeletionModel) tags(ctx context.Context, diags *diag.Diagnostics) []string {
	var tags []string
	diags.Append(m.Tags.ElementsAs(ctx, &tags, false)...)
	slices.Sort(tags)
	return tags
}

// tagKind is what registry_tag_deletion has of its own in the deletion
// lifecycle (deletion_lifecycle.go).
type tagKind struct {
	deletesInRepository[registry.TagDeletion]
}

var tagLifecycle deletionKind[tagDeletionModel, registry.TagDeletion] = tagKind{}

func (tagKind) names() kindNames {
	return kindNames{typeName: tagDeletionType, planError: "Cannot plan the tag deletion", executeError: "Cannot delete the tags"}
}

func (tagKind) plan(ctx context.Context, c *registry.Client, m tagDeletionModel, diags *diag.Diagnostics) (registry.TagDeletion, error) {
	return c.PlanTagDeletion(ctx, m.Repository.ValueString(), m.tags(ctx, diags), m.DeleteUntaggedManifests.ValueBool())
}

func (tagKind) check(_ context.Context, _ tagDeletionModel, d registry.TagDeletion, _ *diag.Diagnostics) bool {
	return len(d.Tags) > 0
}

func (tagKind) record(ctx context.Context, m *tagDeletionModel, d registry.TagDeletion, diags *diag.Diagnostics) {
	m.setDeletion(ctx, d, diags)
}

func (tagKind) hasPending(m tagDeletionModel) bool { return hasValue(m.Pending) }

func (tagKind) pending(ctx context.Context, m tagDeletionModel, diags *diag.Diagnostics) registry.TagDeletion {
	return m.pendingDeletion(ctx, diags)
}

func (tagKind) planned(ctx context.Context, m tagDeletionModel, diags *diag.Diagnostics) registry.TagDeletion {
	return m.deletion(ctx, diags)
}

func (tagKind) execute(ctx context.Context, c *registry.Client, d registry.TagDeletion) (registry.Report, error) {
	return c.ExecuteTagDeletion(ctx, d)
}

func (tagKind) refresh(ctx context.Context, m *tagDeletionModel, c *registry.Client, diags *diag.Diagnostics) error {
	return m.refresh(ctx, c, diags)
}

func (r *TagDeletionResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	modifyDeletionPlan(ctx, tagLifecycle, r.client, r.now, req, resp)
}

func (m *tagDeletionModel) setDeletion(ctx context.Context, d registry.TagDeletion, diags *diag.Diagnostics) {
	m.ID = m.Repository
	m.RemovedTags = stringMap(ctx, d.Tags, diags)
	m.DeletedManifests = stringList(d.Untagged, diags)
	m.Pending = types.ObjectNull(tagPendingType)
}

func (m tagDeletionModel) deletion(ctx context.Context, diags *diag.Diagnostics) registry.TagDeletion {
	d := registry.TagDeletion{Repository: m.Repository.ValueString()}
	diags.Append(m.RemovedTags.ElementsAs(ctx, &d.Tags, false)...)
	diags.Append(m.DeletedManifests.ElementsAs(ctx, &d.Untagged, false)...)
	return d
}

func (m tagDeletionModel) pendingDeletion(ctx context.Context, diags *diag.Diagnostics) registry.TagDeletion {
	var p tagPending
	diags.Append(m.Pending.As(ctx, &p, basetypes.ObjectAsOptions{})...)
	d := registry.TagDeletion{Repository: m.Repository.ValueString()}
	diags.Append(p.Tags.ElementsAs(ctx, &d.Tags, false)...)
	diags.Append(p.Manifests.ElementsAs(ctx, &d.Untagged, false)...)
	return d
}

func (r *TagDeletionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	createDeletion(ctx, tagLifecycle, r.client, r.now, req, resp)
}

func (r *TagDeletionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateDeletion(ctx, tagLifecycle, r.client, r.now, req, resp)
}

func (r *TagDeletionResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readDeletion(ctx, tagLifecycle, r.client, req, resp)
}

// refresh records in pending the tags that are back, and what removing
// them would do, for the next apply.
func (m *tagDeletionModel) refresh(ctx context.Context, c *registry.Client, diags *diag.Diagnostics) error {
	repo, tags := m.Repository.ValueString(), m.tags(ctx, diags)
	m.Pending = types.ObjectNull(tagPendingType)
	present, err := c.PresentTags(ctx, repo, tags)
	if err != nil || len(present) == 0 {
		return err
	}
	d, err := c.PlanTagDeletion(ctx, repo, tags, m.DeleteUntaggedManifests.ValueBool())
	if err == nil && len(d.Tags) > 0 {
		pending, dg := types.ObjectValue(tagPendingType, map[string]attr.Value{
			"tags":      stringMap(ctx, d.Tags, diags),
			"manifests": stringList(d.Untagged, diags),
		})
		diags.Append(dg...)
		m.Pending = pending
		diags.AddWarning("Deleted tags are back",
			fmt.Sprintf("%s in %q exist again; the next apply removes them again.", strings.Join(present, ", "), repo))
	}
	return err
}

func (r *TagDeletionResource) Delete(_ context.Context, _ resource.DeleteRequest, _ *resource.DeleteResponse) {
	// Destroy only forgets: ModifyPlan warned that nothing is restored.
}
