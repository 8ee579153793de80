package provider

import (
	"context"
	"fmt"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

var _ datasource.DataSourceWithConfigure = &TagsDataSource{}

// TagsDataSource lists a repository's tags, optionally with what each
// points at.
type TagsDataSource struct {
	client *registry.Client
}

func NewTagsDataSource() datasource.DataSource { return &TagsDataSource{} }

type tagsModel struct {
	Repository  types.String `tfsdk:"repository"`
	TagRegex    types.String `tfsdk:"tag_regex"`
	OrderBy     types.String `tfsdk:"order_by"`
	WithDetails types.Bool   `tfsdk:"with_details"`
	Tags        types.List   `tfsdk:"tags"`
	Details     []tagDetail  `tfsdk:"details"`
}

type tagDetail struct {
	Tag       types.String `tfsdk:"tag"`
	Digest    types.String `tfsdk:"digest"`
	Created   types.String `tfsdk:"created"`
	MediaType types.String `tfsdk:"media_type"`
}

func (d *TagsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_tags"
}

func (d *TagsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	orders := make([]string, len(retention.Orders))
	for i, o := range retention.Orders {
		orders[i] = string(o)
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists every tag of a repository (all pages, whatever the registry's page size), filtered and ordered. " +
			"Referrer fallback tags such as `sha256-<hex>.sig` are tags too and are listed.",
		Attributes: map[string]schema.Attribute{
			"repository": schema.StringAttribute{
				MarkdownDescription: "Repository path, e.g. `team/app`.",
				Required:            true,
				Validators:          []validator.String{repositoryValidator},
			},
			"tag_regex": schema.StringAttribute{
				MarkdownDescription: "Only tags matching this RE2 regular expression (unanchored: use `^...$` for a whole-tag match).",
				Optional:            true,
				Validators:          []validator.String{regexValidator},
			},
			"order_by": schema.StringAttribute{
				MarkdownDescription: "`name` (default, ascending), `semver` (highest version first; a leading `v` is allowed; non-versions last, by name) or `created` (newest image first; unknown age last; ties by name). `created` reads every manifest and image config.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.OneOf(orders...)},
			},
			"with_details": schema.BoolAttribute{
				MarkdownDescription: "Also fill `details`, reading every tag's manifest (one request per tag, one per distinct image config).",
				Optional:            true,
			},
			"tags": schema.ListAttribute{
				MarkdownDescription: "Matching tags in the requested order.",
				Computed:            true,
				ElementType:         types.StringType,
			},
			"details": schema.ListNestedAttribute{
				MarkdownDescription: "With `with_details`: one entry per tag, in the order of `tags`.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"tag":        schema.StringAttribute{Computed: true, MarkdownDescription: "The tag."},
					"digest":     schema.StringAttribute{Computed: true, MarkdownDescription: "Manifest digest the tag points at."},
					"created":    schema.StringAttribute{Computed: true, MarkdownDescription: "Image creation time (RFC 3339) from the image config; for an index, its newest child's. Null when unknown."},
					"media_type": schema.StringAttribute{Computed: true, MarkdownDescription: "Manifest media type."},
				}},
			},
		},
	}
}

func (d *TagsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *TagsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m tagsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	repo := m.Repository.ValueString()
	tags, err := d.matchingTags(ctx, repo, m.TagRegex.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(pathRepository, "Cannot list tags", err.Error())
		return
	}
	order := retention.Order(m.OrderBy.ValueString())
	withDetails := m.WithDetails.ValueBool()
	byTag := map[string]registry.Manifest{}
	if withDetails || order == retention.ByCreated {
		described, err := d.client.DescribeTags(ctx, repo, tags)
		if err != nil {
			resp.Diagnostics.AddAttributeError(pathRepository, "Cannot read tags", err.Error())
			return
		}
		for _, t := range described {
			byTag[t.Tag] = t.Manifest
		}
	}
	ordered := make([]retention.Tag, len(tags))
	for i, t := range tags {
		ordered[i] = retention.Tag{Name: t, Digest: byTag[t].Digest, Created: byTag[t].Created}
	}
	retention.Sort(ordered, order)

	names := make([]string, len(ordered))
	for i, t := range ordered {
		names[i] = t.Name
	}
	m.Tags = stringList(names, &resp.Diagnostics)
	m.Details = nil
	if withDetails {
		m.Details = make([]tagDetail, len(ordered))
		for i, t := range ordered {
			mf := byTag[t.Name]
			m.Details[i] = tagDetail{
				Tag:       types.StringValue(t.Name),
				Digest:    types.StringValue(mf.Digest),
				Created:   timeValue(mf.Created),
				MediaType: types.StringValue(mf.MediaType),
			}
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (d *TagsDataSource) matchingTags(ctx context.Context, repo, pattern string) ([]string, error) {
	all, err := d.client.Tags(ctx, repo)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("tag_regex: %w", err)
	}
	tags := []string{}
	for _, t := range all {
		if re.MatchString(t) {
			tags = append(tags, t)
		}
	}
	return tags, nil
}
