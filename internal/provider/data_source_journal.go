package provider

import (
	"context"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

var _ datasource.DataSourceWithConfigure = &JournalDataSource{}

// JournalDataSource lists what applies deleted, from the journal they
// store in the registry, and whether each can still be restored.
type JournalDataSource struct {
	client *registry.Client
}

func NewJournalDataSource() datasource.DataSource { return &JournalDataSource{} }

type journalModel struct {
	Repository types.String        `tfsdk:"repository"`
	ApplyID    types.String        `tfsdk:"apply_id"`
	Entries    []journalEntryModel `tfsdk:"entries"`
}

type journalEntryModel struct {
	ApplyID    types.String `tfsdk:"apply_id"`
	DeletedAt  types.String `tfsdk:"deleted_at"`
	Repository types.String `tfsdk:"repository"`
	Digest     types.String `tfsdk:"digest"`
	Tags       types.List   `tfsdk:"tags"`
	MediaType  types.String `tfsdk:"media_type"`
	Size       types.Int64  `tfsdk:"size"`
	Present    types.Bool   `tfsdk:"present"`
	Restorable types.Bool   `tfsdk:"restorable"`
	Expired    types.Bool   `tfsdk:"expired"`
	Missing    types.List   `tfsdk:"missing"`
}

func (d *JournalDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_journal"
}

func (d *JournalDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(description string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: description}
	}
	flag := func(description string) schema.BoolAttribute {
		return schema.BoolAttribute{Computed: true, MarkdownDescription: description}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "What applies of retention policies and explicit deletions deleted, read from the journal they store in the " +
			"registry (`terraform-provider-registry/journal`), newest first, and whether each manifest can still be restored " +
			"(`registry_restore`): until garbage collection frees its blobs. Each entry asks the registry about the manifest and its blobs. " +
			"See the [Undo guide](../guides/undo.md).",
		Attributes: map[string]schema.Attribute{
			"repository": schema.StringAttribute{
				Optional: true, MarkdownDescription: "Only deletions in this repository.",
				Validators: []validator.String{repositoryValidator},
			},
			"apply_id": schema.StringAttribute{
				Optional: true, MarkdownDescription: "Only what this apply deleted.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"entries": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "One per deleted manifest, newest apply first.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"apply_id":   computed("The apply that deleted it: give it to `registry_restore` to restore everything that apply deleted."),
					"deleted_at": computed("When it was deleted (RFC 3339)."),
					"repository": computed("Repository."),
					"digest":     computed("Manifest digest."),
					"tags":       schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "The tags it had when it was deleted."},
					"media_type": computed("Manifest media type."),
					"size":       schema.Int64Attribute{Computed: true, MarkdownDescription: "Bytes the manifest and what it names hold: an image's config and layers, an index's child manifests (whose blobs their own entries count)."},
					"present":    flag("The registry serves the manifest again (restored, or pushed again)."),
					"restorable": flag("Not present, and every blob it needs is still in the registry (an index: each child is present or restorable): `registry_restore` can bring it back."),
					"expired":    flag("Not present, and garbage collection freed a blob it needs (`missing`): it can no longer be restored."),
					"missing": schema.ListAttribute{Computed: true, ElementType: types.StringType,
						MarkdownDescription: "What an expired entry needs that the registry no longer holds: `blob <digest>`, `child manifest <digest>`."},
				}},
			},
		},
	}
}

func (d *JournalDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *JournalDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m journalModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	records, err := d.client.ReadJournal(ctx, registry.JournalFilter{Repository: m.Repository.ValueString(), ApplyID: m.ApplyID.ValueString()})
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the journal", err.Error())
		return
	}
	statuses, err := d.client.JournalStatuses(ctx, records)
	if err != nil {
		resp.Diagnostics.AddError("Cannot check the journal's entries against the registry", err.Error())
		return
	}
	m.Entries = make([]journalEntryModel, len(records))
	for i, r := range records {
		m.Entries[len(records)-1-i] = journalEntry(r, statuses[i], &resp.Diagnostics) // newest first
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func journalEntry(r registry.JournalRecord, s registry.JournalStatus, diags *diag.Diagnostics) journalEntryModel {
	parts, _ := r.Parts() // a body the journal read back parses
	return journalEntryModel{
		ApplyID:    types.StringValue(r.ApplyID),
		DeletedAt:  types.StringValue(r.At.UTC().Format(time.RFC3339)),
		Repository: types.StringValue(r.Repository),
		Digest:     types.StringValue(r.Digest),
		Tags:       stringList(slices.Clone(r.Tags), diags),
		MediaType:  types.StringValue(r.MediaType),
		Size:       types.Int64Value(parts.Size(r.Body)),
		Present:    types.BoolValue(s.Present),
		Restorable: types.BoolValue(s.Restorable()),
		Expired:    types.BoolValue(s.Expired()),
		Missing:    stringList(s.Missing, diags),
	}
}
