package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
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
	_ resource.ResourceWithConfigure  = &ManifestDeletionResource{}
	_ resource.ResourceWithModifyPlan = &ManifestDeletionResource{}
)

// ManifestDeletionResource deletes one manifest by digest, showing in the
// plan every tag, referrer and index child that goes with it.
type ManifestDeletionResource struct {
	client *registry.Client
	now    func() time.Time
}

func NewManifestDeletionResource() resource.Resource { return &ManifestDeletionResource{} }

type manifestDeletionModel struct {
	ID               types.String `tfsdk:"id"`
	Repository       types.String `tfsdk:"repository"`
	Digest           types.String `tfsdk:"digest"`
	Tag              types.String `tfsdk:"tag"`
	DeleteReferrers  types.Bool   `tfsdk:"delete_referrers"`
	RemovedTags      types.List   `tfsdk:"removed_tags"`
	RemovedReferrers types.List   `tfsdk:"removed_referrers"`
	RemovedChildren  types.List   `tfsdk:"removed_children"`
	AllowBreaking    types.Bool   `tfsdk:"allow_breaking_indexes"`
	BrokenIndexes    types.Map    `tfsdk:"broken_indexes"`
	Pending          types.Object `tfsdk:"pending"`
}

// manifestPending is a deletion found by refresh, for the next apply.
type manifestPending struct {
	Digest        types.String `tfsdk:"digest"`
	Tags          types.List   `tfsdk:"tags"`
	Referrers     types.List   `tfsdk:"referrers"`
	Children      types.List   `tfsdk:"children"`
	BrokenIndexes types.Map    `tfsdk:"broken_indexes"`
}

// indexesType maps a tagged index's digest to its tags.
var indexesType = types.MapType{ElemType: types.ListType{ElemType: types.StringType}}

var manifestPendingType = map[string]attr.Type{
	"digest":         types.StringType,
	"tags":           types.ListType{ElemType: types.StringType},
	"referrers":      types.ListType{ElemType: types.StringType},
	"children":       types.ListType{ElemType: types.StringType},
	"broken_indexes": indexesType,
}

const manifestDeletionType = "registry_manifest_deletion"

func (r *ManifestDeletionResource) Metadata(_ context.Context, _ resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = manifestDeletionType
}

func (r *ManifestDeletionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Deletes one manifest by digest: the registry removes **every tag** on that digest with it, and the plan " +
			"lists them (`removed_tags`) before anything happens. Give `digest`, or `tag` to delete whatever image the tag points at " +
			"(resolved at plan time). If the manifest (or, with `tag`, an image under that tag) appears again, the next plan deletes it again. " +
			"Destroying this resource only forgets it; `registry_restore` puts back what it deleted, until garbage collection frees it. Disk space is freed only by garbage collection.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`<repository>@<digest>` or `<repository>:<tag>`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"repository": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Repository path, e.g. `team/app`; never one of the provider's own (`terraform-provider-registry/...`).",
				Validators:          []validator.String{deletableRepositoryValidator},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"digest": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				MarkdownDescription: "Digest of the manifest to delete (`sha256:...`). With `tag`, the digest the tag points at, resolved at plan time.",
				Validators: []validator.String{
					digestValidator,
					stringvalidator.ExactlyOneOf(path.MatchRoot("digest"), path.MatchRoot("tag")),
				},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIfConfigured()},
			},
			"tag": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Delete the manifest this tag points at (and so every other tag on it).",
				Validators:          []validator.String{tagValidator},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"delete_referrers": schema.BoolAttribute{
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(true),
				MarkdownDescription: "Also delete the manifest's referrers: signatures, attestations and SBOMs found through `sha256-<hex>.*` fallback tags or the OCI referrers API. Default `true`: without its subject a referrer is garbage.",
			},
			"removed_tags": schema.ListAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "Every tag the deletion removes: the tags on the digest and, with `delete_referrers`, the referrers' fallback tags.",
			},
			"removed_referrers": schema.ListAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "Digests of referrers deleted after the manifest (a subject goes first, so a failure never leaves a kept image unsigned).",
			},
			"removed_children": schema.ListAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "For an index: digests of its children that no remaining tag or index references, deleted after it.",
			},
			"allow_breaking_indexes": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "Delete the manifest even when tagged indexes (multi-platform images) list it as a platform: those indexes stay " +
					"tagged but can no longer be pulled for that platform. Default `false`: the plan fails and names them (`broken_indexes`).",
			},
			"broken_indexes": schema.MapAttribute{
				Computed:    true,
				ElementType: types.ListType{ElemType: types.StringType},
				MarkdownDescription: "Tagged manifests that stay and use the manifest (indexes listing it however deep, images naming it as their `subject`), each digest with its tags: the deletion breaks them. " +
					"Planning fails while this is not empty, unless `allow_breaking_indexes = true`; the apply then refuses if any other index started listing it.",
			},
			"pending": schema.SingleNestedAttribute{
				Computed: true,
				MarkdownDescription: "Set by refresh when the manifest (or, with `tag`, an image under the tag) is in the registry again: " +
					"what the next apply deletes. Null when there is nothing to delete.",
				Attributes: map[string]schema.Attribute{
					"digest":    schema.StringAttribute{Computed: true, MarkdownDescription: "Digest to delete."},
					"tags":      schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Tags removed with it."},
					"referrers": schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Referrers deleted after it."},
					"children":  schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Index children deleted after it."},
					"broken_indexes": schema.MapAttribute{Computed: true, ElementType: types.ListType{ElemType: types.StringType},
						MarkdownDescription: "Tagged manifests that stay and use it (indexes listing it however deep, images naming it as their `subject`), each digest with its tags: what deleting it breaks."},
				},
			},
		},
	}
}

func (r *ManifestDeletionResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client, r.now = clientFrom(req.ProviderData, &resp.Diagnostics), clockFrom(req.ProviderData)
}

// reference is the tag or digest the configuration names.
func (m manifestDeletionModel) reference() string {
	if !m.Tag.IsNull() {
		return m.Tag.ValueString()
	}
	return m.Digest.ValueString()
}

func (m manifestDeletionModel) id() string {
	if !m.Tag.IsNull() {
		return m.Repository.ValueString() + ":" + m.Tag.ValueString()
	}
	return m.Repository.ValueString() + "@" + m.Digest.ValueString()
}

// manifestKind is what registry_manifest_deletion has of its own in the
// deletion lifecycle (deletion_lifecycle.go).
type manifestKind struct {
	deletesInRepository[registry.ManifestDeletion]
}

var manifestLifecycle deletionKind[manifestDeletionModel, registry.ManifestDeletion] = manifestKind{}

func (manifestKind) names() kindNames {
	return kindNames{typeName: manifestDeletionType, planError: "Cannot plan the manifest deletion", executeError: "Cannot delete the manifest"}
}

func (manifestKind) plan(ctx context.Context, c *registry.Client, m manifestDeletionModel, _ *diag.Diagnostics) (registry.ManifestDeletion, error) {
	return c.PlanManifestDeletion(ctx, m.Repository.ValueString(), m.reference(), m.DeleteReferrers.ValueBool())
}

func (manifestKind) check(_ context.Context, m manifestDeletionModel, d registry.ManifestDeletion, diags *diag.Diagnostics) bool {
	return m.check(d, diags)
}

func (manifestKind) record(ctx context.Context, m *manifestDeletionModel, d registry.ManifestDeletion, diags *diag.Diagnostics) {
	m.setDeletion(ctx, d, diags)
}

func (manifestKind) hasPending(m manifestDeletionModel) bool { return hasValue(m.Pending) }

func (manifestKind) pending(ctx context.Context, m manifestDeletionModel, diags *diag.Diagnostics) registry.ManifestDeletion {
	return m.pendingDeletion(ctx, diags)
}

func (manifestKind) planned(ctx context.Context, m manifestDeletionModel, diags *diag.Diagnostics) registry.ManifestDeletion {
	return m.deletion(ctx, diags)
}

func (manifestKind) execute(ctx context.Context, c *registry.Client, d registry.ManifestDeletion) (registry.Report, error) {
	if d.Empty() {
		return registry.Report{}, nil
	}
	return c.ExecuteManifestDeletion(ctx, d)
}

func (manifestKind) refresh(ctx context.Context, m *manifestDeletionModel, c *registry.Client, diags *diag.Diagnostics) error {
	return m.refresh(ctx, c, diags)
}

func (r *ManifestDeletionResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	modifyDeletionPlan(ctx, manifestLifecycle, r.client, r.now, req, resp)
}

// check refuses to break tagged indexes unless allowed, and warns when
// there is nothing to delete.
func (m manifestDeletionModel) check(d registry.ManifestDeletion, diags *diag.Diagnostics) bool {
	if len(d.BrokenIndexes) > 0 && !m.AllowBreaking.ValueBool() {
		diags.AddAttributeError(path.Root("allow_breaking_indexes"), "Deleting this manifest would break tagged indexes",
			fmt.Sprintf("%s in %q is used by tagged manifests that stay (indexes listing it as a platform, or images naming it as their subject): %s. "+
				"Deleting it leaves those indexes unpullable for that platform. "+
				"Delete them instead (or first), or set allow_breaking_indexes = true to delete it anyway. Nothing was deleted.",
				d.Digest, d.Repository, describeIndexes(d.BrokenIndexes)))
		return false
	}
	if d.Empty() {
		diags.AddWarning("Nothing to delete",
			fmt.Sprintf("%s does not exist in the registry: this apply deletes nothing. If it appears later, the next plan deletes it.", m.id()))
		return false
	}
	return true
}

// setDeletion records a planned deletion in the model.
func (m *manifestDeletionModel) setDeletion(_ context.Context, d registry.ManifestDeletion, diags *diag.Diagnostics) {
	if !d.Empty() {
		m.Digest = types.StringValue(d.Digest)
	} else if m.Digest.IsUnknown() {
		m.Digest = types.StringNull()
	}
	m.ID = types.StringValue(m.id())
	m.RemovedTags = stringList(d.Tags, diags)
	m.RemovedReferrers = stringList(d.Referrers, diags)
	m.RemovedChildren = stringList(d.Children, diags)
	m.BrokenIndexes = indexesValue(d.BrokenIndexes, diags)
	m.Pending = types.ObjectNull(manifestPendingType)
}

// describeIndexes names indexes with their tags, for messages.
func describeIndexes(parents map[string][]string) string {
	var named []string
	for _, digest := range slices.Sorted(maps.Keys(parents)) {
		named = append(named, fmt.Sprintf("%s (tags: %s)", digest, strings.Join(parents[digest], ", ")))
	}
	return strings.Join(named, "; ")
}

func indexesValue(parents map[string][]string, diags *diag.Diagnostics) types.Map {
	elems := map[string]attr.Value{}
	for digest, tags := range parents {
		elems[digest] = stringList(tags, diags)
	}
	v, d := types.MapValue(indexesType.ElemType, elems)
	diags.Append(d...)
	return v
}

// accepted returns the digests of the indexes the plan allows breaking.
func accepted(allow types.Bool, indexes types.Map) []string {
	if !allow.ValueBool() {
		return nil
	}
	return slices.Sorted(maps.Keys(indexes.Elements()))
}

func indexesFrom(ctx context.Context, indexes types.Map, diags *diag.Diagnostics) map[string][]string {
	parents := map[string][]string{}
	diags.Append(indexes.ElementsAs(ctx, &parents, false)...)
	return parents
}

// deletion is the planned deletion as recorded in the model.
func (m manifestDeletionModel) deletion(ctx context.Context, diags *diag.Diagnostics) registry.ManifestDeletion {
	d := registry.ManifestDeletion{Repository: m.Repository.ValueString(), ViaTag: m.Tag.ValueString()}
	d.Digest = m.Digest.ValueString()
	diags.Append(m.RemovedTags.ElementsAs(ctx, &d.Tags, false)...)
	diags.Append(m.RemovedReferrers.ElementsAs(ctx, &d.Referrers, false)...)
	diags.Append(m.RemovedChildren.ElementsAs(ctx, &d.Children, false)...)
	d.BrokenIndexes = indexesFrom(ctx, m.BrokenIndexes, diags)
	d.AcceptBroken = accepted(m.AllowBreaking, m.BrokenIndexes)
	return d
}

// pendingDeletion is the deletion that refresh recorded.
func (m manifestDeletionModel) pendingDeletion(ctx context.Context, diags *diag.Diagnostics) registry.ManifestDeletion {
	var p manifestPending
	diags.Append(m.Pending.As(ctx, &p, basetypes.ObjectAsOptions{})...)
	d := registry.ManifestDeletion{Repository: m.Repository.ValueString(), ViaTag: m.Tag.ValueString()}
	d.Digest = p.Digest.ValueString()
	diags.Append(p.Tags.ElementsAs(ctx, &d.Tags, false)...)
	diags.Append(p.Referrers.ElementsAs(ctx, &d.Referrers, false)...)
	diags.Append(p.Children.ElementsAs(ctx, &d.Children, false)...)
	d.BrokenIndexes = indexesFrom(ctx, p.BrokenIndexes, diags)
	return d
}

func (r *ManifestDeletionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	createDeletion(ctx, manifestLifecycle, r.client, r.now, req, resp)
}

func (r *ManifestDeletionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateDeletion(ctx, manifestLifecycle, r.client, r.now, req, resp)
}

func (r *ManifestDeletionResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readDeletion(ctx, manifestLifecycle, r.client, req, resp)
}

// refresh records in pending what the next apply must delete again: the
// manifest, or with tag, whatever image the tag points at now.
func (m *manifestDeletionModel) refresh(ctx context.Context, c *registry.Client, diags *diag.Diagnostics) error {
	m.Pending = types.ObjectNull(manifestPendingType)
	repo := m.Repository.ValueString()
	exists, err := c.Exists(ctx, repo, m.reference())
	if err != nil || !exists {
		return err
	}
	d, err := c.PlanManifestDeletion(ctx, repo, m.reference(), m.DeleteReferrers.ValueBool())
	if err == nil && !d.Empty() {
		m.Pending = manifestPendingValue(d, diags)
		diags.AddWarning("Deleted manifest is back",
			fmt.Sprintf("%s is in the registry again (%s); the next apply deletes it again.", m.id(), d.Digest))
	}
	return err
}

func manifestPendingValue(d registry.ManifestDeletion, diags *diag.Diagnostics) types.Object {
	v, dg := types.ObjectValue(manifestPendingType, map[string]attr.Value{
		"digest":         types.StringValue(d.Digest),
		"tags":           stringList(d.Tags, diags),
		"referrers":      stringList(d.Referrers, diags),
		"children":       stringList(d.Children, diags),
		"broken_indexes": indexesValue(d.BrokenIndexes, diags),
	})
	diags.Append(dg...)
	return v
}

func (r *ManifestDeletionResource) Delete(_ context.Context, _ resource.DeleteRequest, _ *resource.DeleteResponse) {
	// Destroy only forgets: ModifyPlan warned that nothing is restored.
}
