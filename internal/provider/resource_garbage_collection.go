package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/distreg/terraform-provider-registry/internal/gc"
	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

var (
	_ resource.ResourceWithConfigure  = &GarbageCollectionResource{}
	_ resource.ResourceWithModifyPlan = &GarbageCollectionResource{}
)

// GarbageCollectionResource runs garbage collection against the
// registry's storage when created and whenever an input changes, and
// keeps the report in state. Every input but triggers and images forces
// replacement: a changed input is a new run. triggers runs in place, and
// only when its value at apply differs from the last run's: a trigger
// known only after apply (a policy's applied.deletions_id) runs garbage
// collection only when the policy's apply did delete.
type GarbageCollectionResource struct {
	client *registry.Client
	now    func() time.Time // dates each run (run_at, id)
	hosts  retention.Hosts
	// configured: the provider is, so hosts are its names (not so while
	// Terraform validates, or when the provider's configuration is unknown).
	configured bool
}

func NewGarbageCollectionResource() resource.Resource { return &GarbageCollectionResource{} }

type garbageCollectionModel struct {
	gcSettings
	ID                  types.String `tfsdk:"id"`
	Triggers            types.Map    `tfsdk:"triggers"`
	RepositoriesScanned types.Int64  `tfsdk:"repositories_scanned"`
	ManifestsDeleted    types.Int64  `tfsdk:"manifests_deleted"`
	BlobsDeleted        types.Int64  `tfsdk:"blobs_deleted"`
	LayerLinksDeleted   types.Int64  `tfsdk:"layer_links_deleted"`
	BytesFreed          types.Int64  `tfsdk:"bytes_freed"`
	ManifestsHeldBack   types.Int64  `tfsdk:"manifests_held_back"`
	BytesHeldBack       types.Int64  `tfsdk:"bytes_held_back"`
	JournalChunksPruned types.Int64  `tfsdk:"journal_chunks_pruned"`
	RunAt               types.String `tfsdk:"run_at"`
	Summary             types.String `tfsdk:"summary"`
}

func (r *GarbageCollectionResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_garbage_collection"
}

func (r *GarbageCollectionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	replaceBool := []planmodifier.Bool{boolplanmodifier.RequiresReplace()}
	computedInt := func(description string) schema.Int64Attribute {
		return schema.Int64Attribute{Computed: true, MarkdownDescription: description}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Garbage collection of the registry's storage: deletes the blobs (layers, configs, manifests) that no " +
			"manifest references any more, which is what frees disk after deletions. It runs in the provider, against the storage " +
			"backend, as `registry garbage-collect` does, when the resource is created and whenever an input (`triggers` included) changes. " +
			"Except for a dry run, the registry must be read-only during the run and restarted afterwards, so a real run cannot follow " +
			"a retention policy's deletions in the same apply. Destroying the resource deletes nothing.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Time of the run (RFC 3339).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"config_file": schema.StringAttribute{
				Optional: true, MarkdownDescription: gcDescriptions["config_file"],
				Validators: gcConfigFileValidators, PlanModifiers: replace,
			},
			"storage_driver": schema.StringAttribute{
				Optional: true, MarkdownDescription: gcDescriptions["storage_driver"],
				Validators: gcDriverValidators, PlanModifiers: replace,
			},
			"storage_parameters": schema.MapAttribute{
				Optional: true, Sensitive: true, ElementType: types.StringType,
				MarkdownDescription: gcDescriptions["storage_parameters"],
				Validators:          gcParameterValidators,
				PlanModifiers:       []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"delete_untagged": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: gcDescriptions["delete_untagged"], PlanModifiers: replaceBool,
			},
			"dry_run": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: gcDescriptions["dry_run"], PlanModifiers: replaceBool,
			},
			"allow_writable_registry": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: gcDescriptions["allow_writable_registry"], PlanModifiers: replaceBool,
			},
			"registry_stopped": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: gcDescriptions["registry_stopped"], PlanModifiers: replaceBool,
			},
			"images": schema.ListAttribute{
				Optional: true, ElementType: types.StringType, MarkdownDescription: gcDescriptions["images"],
				Validators: []validator.List{listvalidator.ValueStringsAre(imageValidator)},
			},
			"keep_deleted_within": schema.StringAttribute{
				Optional: true, MarkdownDescription: gcDescriptions["keep_deleted_within"],
				Validators: []validator.String{durationValidator}, PlanModifiers: replace,
			},
			"triggers": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Arbitrary values that run garbage collection again when they change: " +
					"`{ deleted = registry_retention_policy.apps.applied.deletions_id }` runs it after each apply in which the policy " +
					"deleted something, and only then. A value known only after apply shows as an update in the plan, and the run happens " +
					"only if the value found at apply differs from the last run's (an apply that skipped every deletion runs nothing). " +
					"A hash of `deletions` is no trigger: refresh empties that list.",
			},
			"repositories_scanned":  computedInt("Repositories whose manifests were marked."),
			"manifests_deleted":     computedInt("Untagged manifests deleted (with `delete_untagged`)."),
			"blobs_deleted":         computedInt("Blobs deleted: layers, configs and manifest bodies nothing references."),
			"layer_links_deleted":   computedInt("Repository links to deleted or unreferenced layers removed."),
			"bytes_freed":           computedInt("Total size of the deleted blobs. With `dry_run`, what a run would free."),
			"manifests_held_back":   computedInt("Deleted manifests that `keep_deleted_within` kept restorable: their blobs would have been deleted without it."),
			"bytes_held_back":       computedInt("Total size of the blobs that `keep_deleted_within` kept and a run without it would have deleted."),
			"journal_chunks_pruned": computedInt("Journal chunks older than `keep_deleted_within` deleted (with `dry_run`, that a run would delete)."),
			"run_at": schema.StringAttribute{
				Computed: true, MarkdownDescription: "When the run finished (RFC 3339).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"summary": schema.StringAttribute{Computed: true, MarkdownDescription: "The run in one sentence."},
		},
	}
}

func (r *GarbageCollectionResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client, r.now = gcClientFrom(req.ProviderData, &resp.Diagnostics), clockFrom(req.ProviderData)
	r.hosts, r.configured = hostsFrom(req.ProviderData)
}

// ModifyPlan opens the storage when a run is planned, so a wrong path,
// bucket or credential fails the plan, and checks that images name this
// registry whenever they are to be used (a run, or a new list for the
// next one).
func (r *GarbageCollectionResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan garbageCollectionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	run := req.State.Raw.IsNull() || len(resp.RequiresReplace) > 0
	if !run && r.triggered(ctx, req, plan.Triggers, &resp.Diagnostics) { // a run in place, if the value at apply still differs
		run = true
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), types.StringUnknown())...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("run_at"), types.StringUnknown())...)
	}
	if r.configured && (run || !r.imagesInState(ctx, req, plan.Images, &resp.Diagnostics)) {
		resp.Diagnostics.Append(checkImageHosts(plan.Images, r.hosts)...)
	}
	if run && !resp.Diagnostics.HasError() {
		resp.Diagnostics.Append(plan.checkStorage(ctx)...)
	}
}

// triggered reports whether triggers differs from the state's (or is not
// known yet).
func (r *GarbageCollectionResource) triggered(ctx context.Context, req resource.ModifyPlanRequest, triggers types.Map, diags *diag.Diagnostics) bool {
	var state types.Map
	diags.Append(req.State.GetAttribute(ctx, path.Root("triggers"), &state)...)
	return !state.Equal(triggers)
}

// imagesInState reports whether the state already holds images.
func (r *GarbageCollectionResource) imagesInState(ctx context.Context, req resource.ModifyPlanRequest, images types.List, diags *diag.Diagnostics) bool {
	var state types.List
	diags.Append(req.State.GetAttribute(ctx, path.Root("images"), &state)...)
	return state.Equal(images)
}

func (r *GarbageCollectionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.run(ctx, req.Plan, &resp.State, &resp.Diagnostics)
}

// run collects garbage as planned and records the report in state.
func (r *GarbageCollectionResource) run(ctx context.Context, planned tfsdk.Plan, state *tfsdk.State, diags *diag.Diagnostics) {
	var plan garbageCollectionModel
	diags.Append(planned.Get(ctx, &plan)...)
	if diags.HasError() {
		return
	}
	report, runDiags := collectGarbage(ctx, r.client, r.hosts, plan.gcSettings, func(string) {})
	diags.Append(runDiags...)
	if diags.HasError() {
		return
	}
	plan.setReport(report, r.now().UTC())
	diags.Append(state.Set(ctx, &plan)...)
}

func (m *garbageCollectionModel) setReport(report gc.Report, at time.Time) {
	m.ID = types.StringValue(at.Format(time.RFC3339Nano))
	m.RunAt = types.StringValue(at.Format(time.RFC3339))
	m.RepositoriesScanned = types.Int64Value(int64(report.RepositoriesScanned))
	m.ManifestsDeleted = types.Int64Value(int64(report.ManifestsDeleted))
	m.BlobsDeleted = types.Int64Value(int64(report.BlobsDeleted))
	m.LayerLinksDeleted = types.Int64Value(int64(report.LayerLinksDeleted))
	m.BytesFreed = types.Int64Value(report.BytesFreed)
	m.ManifestsHeldBack = types.Int64Value(int64(report.ManifestsHeldBack))
	m.BytesHeldBack = types.Int64Value(report.BytesHeldBack)
	m.JournalChunksPruned = types.Int64Value(int64(report.JournalChunksPruned))
	m.Summary = types.StringValue(report.Summary())
}

// Read keeps the report: a past run has nothing to refresh.
func (r *GarbageCollectionResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {
}

// Update runs garbage collection when triggers changed (known now, see
// GarbageCollectionResource; when the value found at apply is the last
// run's, ModifyPlan plans no run and Terraform, the update then a no-op,
// does not call Update at all), and otherwise only takes a new images list:
// a cluster's image list changes with every deployment, and each change
// must not collect garbage again. The report stays the last run's; the
// next run keeps the new list.
func (r *GarbageCollectionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state garbageCollectionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.Triggers.Equal(state.Triggers) {
		r.run(ctx, req.Plan, &resp.State, &resp.Diagnostics)
		return
	}
	state.Images = plan.Images
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Delete forgets the run: nothing in the registry is undone or deleted.
func (r *GarbageCollectionResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}
