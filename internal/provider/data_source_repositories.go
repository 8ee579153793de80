package provider

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

var _ datasource.DataSourceWithConfigure = &RepositoriesDataSource{}

// RepositoriesDataSource lists the registry's catalog.
type RepositoriesDataSource struct {
	client *registry.Client
}

func NewRepositoriesDataSource() datasource.DataSource { return &RepositoriesDataSource{} }

type repositoriesModel struct {
	Prefix types.String `tfsdk:"prefix"`
	Regex  types.String `tfsdk:"regex"`
	Names  types.List   `tfsdk:"names"`
}

func (d *RepositoriesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_repositories"
}

func (d *RepositoriesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the repositories in the registry's catalog (`/v2/_catalog`, every page), optionally filtered. " +
			"The provider's own repositories (`terraform-provider-registry/...`, the journal of its deletions) are left out: " +
			"no deletion may touch them, so a list fed to `for_each` of a deletion never names them.",
		Attributes: map[string]schema.Attribute{
			"prefix": schema.StringAttribute{
				MarkdownDescription: "Only repositories whose name starts with this string, e.g. `team/`.",
				Optional:            true,
			},
			"regex": schema.StringAttribute{
				MarkdownDescription: "Only repositories whose name matches this RE2 regular expression (unanchored: use `^...$` for a whole-name match).",
				Optional:            true,
				Validators:          []validator.String{regexValidator},
			},
			"names": schema.ListAttribute{
				MarkdownDescription: "Matching repository names, sorted.",
				Computed:            true,
				ElementType:         types.StringType,
			},
		},
	}
}

func (d *RepositoriesDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *RepositoriesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m repositoriesModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	all, err := d.client.Repositories(ctx)
	if err != nil {
		resp.Diagnostics.AddError("Cannot list repositories", err.Error())
		return
	}
	re := regexp.MustCompile(m.Regex.ValueString()) // validated at plan time
	names := []string{}
	for _, n := range all {
		if strings.HasPrefix(n, m.Prefix.ValueString()) && re.MatchString(n) && !strings.HasPrefix(n, retention.ProviderNamespace) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	m.Names = stringList(names, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
