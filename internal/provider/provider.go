// Package provider is the Terraform glue of terraform-provider-registry:
// schemas, plans and type conversion. Registry I/O lives in
// internal/registry and the rules in internal/retention.
package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

var (
	_ provider.Provider            = &RegistryProvider{}
	_ provider.ProviderWithActions = &RegistryProvider{}
)

// Address is the provider's full source address, which Terraform also
// keys reattached (debug) providers by.
const Address = "registry.terraform.io/distreg/registry"

// RegistryProvider configures one *registry.Client per provider block (and
// so per alias) and hands it, with the clock, to every resource, data
// source and action (providerData).
type RegistryProvider struct {
	version string
	// now is the clock retention rules measure ages against and GC runs
	// are dated by; tests pin it (newWithClock).
	now func() time.Time
}

// New returns the provider factory that providerserver.Serve expects.
func New(version string) func() provider.Provider {
	return newWithClock(version, time.Now)
}

// newWithClock is New with the clock tests pin.
func newWithClock(version string, now func() time.Time) func() provider.Provider {
	return func() provider.Provider { return &RegistryProvider{version: version, now: now} }
}

type providerModel struct {
	URL                types.String `tfsdk:"url"`
	Username           types.String `tfsdk:"username"`
	Password           types.String `tfsdk:"password"`
	BearerToken        types.String `tfsdk:"bearer_token"`
	DockerConfig       types.Bool   `tfsdk:"docker_config"`
	CAPEM              types.String `tfsdk:"ca_pem"`
	InsecureSkipVerify types.Bool   `tfsdk:"insecure_skip_verify"`
	MaxConcurrency     types.Int64  `tfsdk:"max_concurrency"`
	RetryMaxAttempts   types.Int64  `tfsdk:"retry_max_attempts"`
	RetryMaxElapsed    types.String `tfsdk:"retry_max_elapsed"`
	RequestTimeout     types.String `tfsdk:"request_timeout"`
	CacheDir           types.String `tfsdk:"cache_dir"`
	Aliases            types.List   `tfsdk:"aliases"`
}

func (p *RegistryProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "registry"
	resp.Version = p.version
}

func (p *RegistryProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	credentials := path.Expressions{path.MatchRoot("username"), path.MatchRoot("password")}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages image cleanup of a private Docker Distribution / OCI registry. " +
			"One provider block talks to one registry; use aliases for several.",
		Attributes: map[string]schema.Attribute{
			"url": schema.StringAttribute{
				MarkdownDescription: "Base URL of the registry, `https://host[:port]` (or `http://` for a plain-HTTP registry). Environment: `REGISTRY_URL`. " +
					"Required by everything but garbage collection of a stopped registry (`registry_stopped = true`).",
				Optional:   true,
				Validators: []validator.String{urlValidator},
			},
			"username": schema.StringAttribute{
				MarkdownDescription: "User for basic auth; also used to obtain tokens from registries that answer with a Bearer challenge. Environment: `REGISTRY_USERNAME`.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.ConflictsWith(path.MatchRoot("bearer_token"))},
			},
			"password": schema.StringAttribute{
				MarkdownDescription: "Password for `username`. Environment: `REGISTRY_PASSWORD`.",
				Optional:            true,
				Sensitive:           true,
				Validators:          []validator.String{stringvalidator.ConflictsWith(path.MatchRoot("bearer_token"))},
			},
			"bearer_token": schema.StringAttribute{
				MarkdownDescription: "A registry bearer token sent as is, instead of `username`/`password`. It is never refreshed: a token that expires " +
					"during a long apply stops it (reported as expired); `username`/`password` obtain fresh tokens from token-auth registries instead. Environment: `REGISTRY_TOKEN`.",
				Optional:   true,
				Sensitive:  true,
				Validators: []validator.String{stringvalidator.ConflictsWith(credentials...)},
			},
			"docker_config": schema.BoolAttribute{
				MarkdownDescription: "When no credentials are given, read them from the Docker config (`~/.docker/config.json` or `$DOCKER_CONFIG`) and its credential helpers. Default `false`, so a workstation's credentials are never used by surprise.",
				Optional:            true,
			},
			"ca_pem": schema.StringAttribute{
				MarkdownDescription: "PEM-encoded CA certificate(s) trusted in addition to the system roots, for registries with a private CA.",
				Optional:            true,
			},
			"insecure_skip_verify": schema.BoolAttribute{
				MarkdownDescription: "Skip TLS certificate verification. Only for testing; prefer `ca_pem`.",
				Optional:            true,
			},
			"max_concurrency": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("Maximum registry requests in flight at once. Default `%d`.", registry.DefaultMaxConcurrency),
				Optional:            true,
				Validators:          []validator.Int64{int64validator.Between(1, 256)},
			},
			"retry_max_attempts": schema.Int64Attribute{
				MarkdownDescription: "Attempts per request on 429, 5xx and connection errors, waiting as `Retry-After` says or with exponential backoff and jitter. `1` disables retries. Default: no limit but `retry_max_elapsed`.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.Between(1, 20)},
			},
			"retry_max_elapsed": schema.StringAttribute{
				MarkdownDescription: fmt.Sprintf("How long one request may keep retrying (429, 5xx, refused or dropped connections), as a Go duration: long enough to ride out a registry restart. Default `%s`.", registry.DefaultRetryMaxElapsed),
				Optional:            true,
				Validators:          []validator.String{durationValidator},
			},
			"request_timeout": schema.StringAttribute{
				MarkdownDescription: fmt.Sprintf("Time limit for one request attempt, as a Go duration (`30s`, `2m`). Default `%s`.", registry.DefaultRequestTimeout),
				Optional:            true,
				Validators:          []validator.String{durationValidator},
			},
			"cache_dir": schema.StringAttribute{
				MarkdownDescription: "Directory where manifest descriptions (media type, size, created time: what a digest names forever) " +
					"are kept between runs, so a plan over an unchanged registry needs one request per tag, and where plans made from the registry are recorded " +
					"so that a saved plan applies as reviewed (see the Safety guide). A description is used only when it agrees with the media type and size " +
					"the registry answers in the same run. `\"\"` turns both off. " +
					"Default: `terraform-provider-registry` in the user's cache directory (`$XDG_CACHE_HOME`, `~/.cache`). Environment: `REGISTRY_CACHE_DIR`.",
				Optional: true,
			},
			"aliases": schema.ListAttribute{
				MarkdownDescription: "Other `host[:port]` names deployments pull this registry's images by (a load balancer's or a DNS alias), " +
					"for `keep { images }` and garbage collection's `images`: an image reference names this registry when its host is the `url`'s host " +
					"or one of these, compared as Docker and containerd read references: a host without a port means the default port of the `url`'s scheme " +
					"(443 for https, 80 for http), `localhost`, `127.0.0.1` and `[::1]` are one host, case does not matter; `docker.io` makes host-less references " +
					"(`nginx:1.27`, Docker Hub's) this registry's, for a Docker Hub mirror.",
				Optional:    true,
				ElementType: types.StringType,
				Validators:  []validator.List{listvalidator.ValueStringsAre(hostValidator)},
			},
		},
	}
}

func (p *RegistryProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cfg, attr, err := clientConfig(m, p.version)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root(attr), "Invalid provider configuration", err.Error())
		return
	}
	if cfg.URL == "" {
		data := providerData{now: p.now, hosts: retention.NewHosts("", "", cfg.Aliases)} // no client: only GC of a stopped registry works
		resp.DataSourceData, resp.ResourceData, resp.ActionData = data, data, data
		return
	}
	warnInsecure(cfg, &resp.Diagnostics)
	client, err := registry.New(ctx, cfg)
	if errors.Is(err, registry.ErrCAPEM) {
		resp.Diagnostics.AddAttributeError(path.Root("ca_pem"), "Invalid provider configuration", err.Error())
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot configure the registry client", err.Error())
		return
	}
	data := providerData{client: client, now: p.now, hosts: client.Hosts(), governors: &governors{}}
	resp.DataSourceData, resp.ResourceData, resp.ActionData = data, data, data
}

// clientConfig merges the configuration with REGISTRY_* environment
// variables (configuration wins) and checks what validators cannot see:
// values that come from the environment. It names the offending attribute.
func clientConfig(m providerModel, version string) (registry.Config, string, error) {
	cfg := registry.Config{
		URL:                stringOr(m.URL, "REGISTRY_URL"),
		Username:           stringOr(m.Username, "REGISTRY_USERNAME"),
		Password:           stringOr(m.Password, "REGISTRY_PASSWORD"),
		BearerToken:        stringOr(m.BearerToken, "REGISTRY_TOKEN"),
		DockerConfig:       m.DockerConfig.ValueBool(),
		CAPEM:              m.CAPEM.ValueString(),
		InsecureSkipVerify: m.InsecureSkipVerify.ValueBool(),
		MaxConcurrency:     int(m.MaxConcurrency.ValueInt64()),
		RetryMaxAttempts:   int(m.RetryMaxAttempts.ValueInt64()),
		UserAgent:          "terraform-provider-registry/" + version,
		CacheDir:           cacheDir(m.CacheDir),
		Aliases:            stringsOf(m.Aliases),
	}
	if cfg.BearerToken != "" && (cfg.Username != "" || cfg.Password != "") {
		return cfg, "bearer_token", fmt.Errorf("bearer_token (REGISTRY_TOKEN) and username/password (REGISTRY_USERNAME/REGISTRY_PASSWORD) are both set: use one way to authenticate")
	}
	// No url is valid: garbage collection of a stopped registry needs none,
	// and whatever needs one says so when it is configured (clientFrom).
	if cfg.URL != "" {
		if _, err := registry.ParseURL(cfg.URL); err != nil {
			return cfg, "url", err
		}
	}
	for _, duration := range []struct {
		attribute string
		value     types.String
		field     *time.Duration
	}{
		{"request_timeout", m.RequestTimeout, &cfg.RequestTimeout},
		{"retry_max_elapsed", m.RetryMaxElapsed, &cfg.RetryMaxElapsed},
	} {
		if s := duration.value.ValueString(); s != "" {
			d, err := parsePositiveDuration(s)
			if err != nil {
				return cfg, duration.attribute, err
			}
			*duration.field = d
		}
	}
	return cfg, "", nil
}

// warnInsecure says when the connection does not protect what it carries:
// certificates not verified, or credentials in clear text to a host other
// than this machine (values may come from the environment, so this runs
// at configuration, which Terraform does before planning).
func warnInsecure(cfg registry.Config, diags *diag.Diagnostics) {
	u, err := registry.ParseURL(cfg.URL)
	if err != nil {
		return // reported by clientConfig
	}
	if cfg.InsecureSkipVerify {
		diags.AddAttributeWarning(path.Root("insecure_skip_verify"), "TLS certificates are not verified",
			fmt.Sprintf("insecure_skip_verify = true: anyone between this machine and %s can read the credentials and answer in its name. "+
				"For a test registry only; trust a private CA with ca_pem instead.", u.Host))
	}
	hasCredentials := cfg.Username != "" || cfg.Password != "" || cfg.BearerToken != "" || cfg.DockerConfig
	if u.Scheme == "http" && hasCredentials && !isLoopback(u.Hostname()) {
		diags.AddAttributeWarning(path.Root("url"), "Credentials sent in clear text",
			fmt.Sprintf("url is http:// and the provider has credentials: they travel unencrypted to %s. Serve the registry over https:// "+
				"(with ca_pem for a private CA).", u.Host))
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cacheDir is the configured cache directory: the attribute, else
// REGISTRY_CACHE_DIR, else the default; an empty value turns it off.
func cacheDir(v types.String) string {
	if !v.IsNull() && !v.IsUnknown() {
		return v.ValueString()
	}
	if dir, ok := os.LookupEnv("REGISTRY_CACHE_DIR"); ok {
		return dir
	}
	return registry.DefaultCacheDir()
}

func stringOr(v types.String, env string) string {
	if !v.IsNull() && !v.IsUnknown() {
		return v.ValueString()
	}
	return os.Getenv(env)
}

func parsePositiveDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s is not a positive duration: write it like \"30s\", \"5m\" or \"168h\"", strconv.Quote(s))
	}
	return d, nil
}

func (p *RegistryProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewManifestDeletionResource,
		NewTagDeletionResource,
		func() resource.Resource { return &RetentionPolicyResource{} },
		NewGarbageCollectionResource,
		NewRestoreResource,
	}
}

func (p *RegistryProvider) Actions(_ context.Context) []func() action.Action {
	return []func() action.Action{NewGarbageCollectAction, NewRestoreAction}
}

func (p *RegistryProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewRepositoriesDataSource,
		NewTagsDataSource,
		NewDigestDataSource,
		NewJournalDataSource,
	}
}
