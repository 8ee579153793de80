package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

var _ datasource.DataSourceWithConfigure = &DigestDataSource{}

var pathRepository = path.Root("repository")

// DigestDataSource resolves a tag to the manifest it points at.
type DigestDataSource struct {
	client *registry.Client
}

func NewDigestDataSource() datasource.DataSource { return &DigestDataSource{} }

type digestModel struct {
	Repository types.String    `tfsdk:"repository"`
	Tag        types.String    `tfsdk:"tag"`
	Digest     types.String    `tfsdk:"digest"`
	MediaType  types.String    `tfsdk:"media_type"`
	Size       types.Int64     `tfsdk:"size"`
	Created    types.String    `tfsdk:"created"`
	Platforms  []platformModel `tfsdk:"platforms"`
}

type platformModel struct {
	OS           types.String `tfsdk:"os"`
	Architecture types.String `tfsdk:"architecture"`
	Variant      types.String `tfsdk:"variant"`
	Digest       types.String `tfsdk:"digest"`
}

func (d *DigestDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_digest"
}

func (d *DigestDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Resolves a tag to the manifest digest it points at. Deleting that digest removes **every** tag on it; " +
			"this data source is how to see what a tag really is before deleting anything.",
		Attributes: map[string]schema.Attribute{
			"repository": schema.StringAttribute{
				MarkdownDescription: "Repository path, e.g. `team/app`.",
				Required:            true,
				Validators:          []validator.String{repositoryValidator},
			},
			"tag": schema.StringAttribute{
				MarkdownDescription: "Tag to resolve.",
				Required:            true,
				Validators:          []validator.String{tagValidator},
			},
			"digest":     schema.StringAttribute{Computed: true, MarkdownDescription: "Manifest digest (`sha256:...`)."},
			"media_type": schema.StringAttribute{Computed: true, MarkdownDescription: "Manifest media type (an image manifest, or an index / manifest list for multi-platform images)."},
			"size":       schema.Int64Attribute{Computed: true, MarkdownDescription: "Manifest size in bytes."},
			"created":    schema.StringAttribute{Computed: true, MarkdownDescription: "Creation time (RFC 3339) from the image config; for an index, its newest child's. Null when unknown."},
			"platforms": schema.ListNestedAttribute{
				MarkdownDescription: "For an index: its children, in manifest order. Empty for a single-platform image.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"os":           schema.StringAttribute{Computed: true, MarkdownDescription: "Operating system, e.g. `linux`."},
					"architecture": schema.StringAttribute{Computed: true, MarkdownDescription: "CPU architecture, e.g. `amd64`."},
					"variant":      schema.StringAttribute{Computed: true, MarkdownDescription: "CPU variant, e.g. `v8`; empty when none."},
					"digest":       schema.StringAttribute{Computed: true, MarkdownDescription: "The child manifest's digest."},
				}},
			},
		},
	}
}

func (d *DigestDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *DigestDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m digestModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	mf, err := d.client.Describe(ctx, m.Repository.ValueString(), m.Tag.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("tag"), "Cannot resolve tag", err.Error())
		return
	}
	m.Digest = types.StringValue(mf.Digest)
	m.MediaType = types.StringValue(mf.MediaType)
	m.Size = types.Int64Value(mf.Size)
	m.Created = timeValue(mf.Created)
	m.Platforms = make([]platformModel, len(mf.Platforms))
	for i, p := range mf.Platforms {
		m.Platforms[i] = platformModel{
			OS:           types.StringValue(p.OS),
			Architecture: types.StringValue(p.Architecture),
			Variant:      types.StringValue(p.Variant),
			Digest:       types.StringValue(p.Digest),
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
