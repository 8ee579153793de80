package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

var (
	_ resource.ResourceWithConfigure      = &RetentionPolicyResource{}
	_ resource.ResourceWithModifyPlan     = &RetentionPolicyResource{}
	_ resource.ResourceWithValidateConfig = &RetentionPolicyResource{}
)

// RetentionPolicyResource keeps and deletes tags over many repositories by
// rules. The plan lists every pending deletion with its reason; the apply
// performs only those. The rules live in internal/retention.
type RetentionPolicyResource struct {
	client    *registry.Client
	now       func() time.Time
	governors *governors // which policy governs each repository, in this run
}

type retentionModel struct {
	ID               types.String   `tfsdk:"id"`
	Repositories     []string       `tfsdk:"repositories"`
	Exclude          []string       `tfsdk:"exclude_repositories"`
	Keep             []keepModel    `tfsdk:"keep"`
	Delete           []deleteModel  `tfsdk:"delete"`
	DeleteReferrers  types.Bool     `tfsdk:"delete_referrers"`
	MaxDeletions     types.Int64    `tfsdk:"max_deletions"`
	EstimateSpace    types.Bool     `tfsdk:"estimate_space"`
	PendingDeletions types.List     `tfsdk:"pending_deletions"`
	Deletions        types.List     `tfsdk:"deletions"`
	Protected        types.List     `tfsdk:"protected"`
	OtherImages      types.Int64    `tfsdk:"other_registry_images"`
	Summary          types.Object   `tfsdk:"summary"`
	Applied          types.Object   `tfsdk:"applied"`
	Replicas         []replicaModel `tfsdk:"replica"`
	ReplicaDeletions types.Map      `tfsdk:"replica_deletions"`
	ReplicaSummary   types.Map      `tfsdk:"replica_summary"`
}

type keepModel struct {
	// Tags is a list value, not []string: it may be unknown at validation.
	Tags      types.List   `tfsdk:"tags"`
	TagRegex  types.String `tfsdk:"tag_regex"`
	Newest    types.Int64  `tfsdk:"newest"`
	NewerThan types.String `tfsdk:"newer_than"`
	OrderBy   types.String `tfsdk:"order_by"`
	Images    types.List   `tfsdk:"images"`
}

type deleteModel struct {
	TagRegex  types.String `tfsdk:"tag_regex"`
	OlderThan types.String `tfsdk:"older_than"`
}

// protectedObject is one entry of protected.
var protectedObject = schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
	"repository": schema.StringAttribute{Computed: true, MarkdownDescription: "Repository."},
	"digest":     schema.StringAttribute{Computed: true, MarkdownDescription: "Manifest digest."},
	"tags":       schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Tags kept."},
	"reason":     schema.StringAttribute{Computed: true, MarkdownDescription: "The deployed images that keep them and the delete rule that matched."},
}}

var protectedObjectType = protectedObject.Type().TerraformType(context.Background())

const retentionPolicyType = "registry_retention_policy"

func (r *RetentionPolicyResource) Metadata(_ context.Context, _ resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = retentionPolicyType
}

func (r *RetentionPolicyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client, r.now = clientFrom(req.ProviderData, &resp.Diagnostics), clockFrom(req.ProviderData)
	if d, ok := req.ProviderData.(providerData); ok {
		r.governors = d.governors
	}
}

func (r *RetentionPolicyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	orders := make([]string, len(retention.Orders))
	for i, o := range retention.Orders {
		orders[i] = string(o)
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Keeps and deletes tags over many repositories by rules. `terraform plan` lists every pending deletion " +
			"(`deletions`: repository, digest, tags, action, reason); `apply` performs those that the policy, evaluated again against the registry, " +
			"still deletes, journals each manifest before deleting it, and puts back what the registry API's window takes from what stays. " +
			"New pushes that break the policy show up in the next plan as an in-place update. Destroying the policy deletes nothing.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The repository patterns, joined by commas.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"repositories": schema.ListAttribute{
				Required:    true,
				ElementType: types.StringType,
				MarkdownDescription: "Repository patterns matched against the catalog: `*` and `?` within one path component, `**` across `/` " +
					"(`team/*`, `team/**`, `tools/ci`). A pattern that matches nothing is a warning.",
				Validators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ValueStringsAre(globValidator)},
			},
			"exclude_repositories": schema.ListAttribute{
				Optional:    true,
				ElementType: types.StringType,
				MarkdownDescription: "Repository patterns (as in `repositories`) this policy leaves alone though `repositories` matches them: " +
					"how a broad default (`repositories = [\"**\"]`) leaves a team's repositories to that team's own policy. " +
					"Two policies of one provider configuration that govern the same repository fail the plan, naming both; see the Retention guide.",
				Validators: []validator.List{listvalidator.ValueStringsAre(globValidator)},
			},
			"delete_referrers": schema.BoolAttribute{
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(true),
				MarkdownDescription: "Delete the signatures, attestations and SBOMs (`sha256-<hex>.*` tags) of deleted manifests with them. Default `true`.",
			},
			"max_deletions": schema.Int64Attribute{
				Optional:            true,
				MarkdownDescription: "Fail the plan, deleting nothing, when it has more than this many entries in `deletions` (one per digest). Unset: no limit.",
				Validators:          []validator.Int64{int64validator.AtLeast(0)},
			},
			"estimate_space": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Estimate the bytes each deletion lets garbage collection free (`bytes` in `deletions`, and in `summary`). " +
					"It needs every manifest body: free when a rule already reads them (`order_by = \"created\"`, `newer_than`, `older_than`) or the description " +
					"cache holds them, a GET per new digest otherwise. Unset: estimated when free; `true`: always; `false`: never. " +
					"The figure is an upper bound: garbage collection keeps blobs that other repositories or untagged manifests still hold.",
			},
			"pending_deletions": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "What the policy would delete now, as found by the last refresh; the next apply deletes it.",
				NestedObject:        decisionObject,
			},
			"deletions": schema.ListNestedAttribute{
				Computed: true,
				MarkdownDescription: "In a plan: every deletion the apply performs, one entry per digest. After apply: what it deleted, until the next " +
					"refresh, which empties it, so that later plans carry no history (`summary` keeps the counts; the apply's output and the plan it applied list each one).",
				NestedObject: decisionObject,
			},
			"protected": schema.ListNestedAttribute{
				Computed: true,
				MarkdownDescription: "Tags that a `delete` rule matches and `keep { images }` keeps, one entry per digest; `reason` names the deployed " +
					"images and the rule. Empty without `images`.",
				NestedObject: protectedObject,
			},
			"other_registry_images": schema.Int64Attribute{
				Computed: true,
				MarkdownDescription: "How many `keep { images }` references name another registry, and are ignored: a cluster's whole image list " +
					"can be passed as it is. A reference names this registry when its host is the provider's `url` host, one of its `aliases`, or a `replica`'s host (a deployment pulling from a mirror runs the primary's image, which is then kept on both).",
			},
			"applied":           appliedAttribute,
			"replica_deletions": replicaDeletionsAttribute,
			"replica_summary":   replicaSummaryAttribute,
			"summary": schema.SingleNestedAttribute{
				Computed: true,
				MarkdownDescription: "`deletions` in numbers, in all and per repository, so that a plan of thousands of deletions reads in a few lines. " +
					"Refreshes keep it: after an apply, it counts what the last apply deleted.",
				Attributes: map[string]schema.Attribute{
					"registry": schema.StringAttribute{
						Computed: true,
						MarkdownDescription: "The registry's host (`host[:port]` of the provider's `url`): with it, summaries of policies over several " +
							"registries (provider aliases, modules, OpenTofu's provider `for_each`) aggregate into one table keyed by registry.",
					},
					"deletions_id": schema.StringAttribute{
						Computed: true,
						MarkdownDescription: "A new value in each plan with deletions (known in the plan); refreshes and plans without deletions keep it. " +
							"Empty until the first plan that deletes. As a garbage collection trigger, use `applied.deletions_id`, which changes " +
							"only when the apply did delete (this one also changes when every planned deletion is then skipped).",
					},
					"tags":      schema.Int64Attribute{Computed: true, MarkdownDescription: "Tags removed."},
					"manifests": schema.Int64Attribute{Computed: true, MarkdownDescription: "Manifests deleted by digest, with index children and referrers."},
					"bytes":     schema.Int64Attribute{Computed: true, MarkdownDescription: "Bytes garbage collection can free afterwards; null when not estimated or nothing is deleted."},
					"repositories": schema.MapNestedAttribute{
						Computed:            true,
						MarkdownDescription: "The same per repository, for the repositories with deletions.",
						NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
							"tags":      schema.Int64Attribute{Computed: true, MarkdownDescription: "Tags removed."},
							"manifests": schema.Int64Attribute{Computed: true, MarkdownDescription: "Manifests deleted by digest."},
							"bytes":     schema.Int64Attribute{Computed: true, MarkdownDescription: "Bytes garbage collection can free afterwards."},
						}},
					},
				},
			},
		},
		Blocks: map[string]schema.Block{
			"replica": replicaBlock,
			"keep": schema.ListNestedBlock{
				MarkdownDescription: "Tags to keep; blocks add up, and a kept tag is never deleted. Set `tags` for exact names and/or select with " +
					"`tag_regex` (default: every tag), narrowed to the `newest` N by `order_by` and/or those created within `newer_than` (the union when both are set).",
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"tags": schema.ListAttribute{
						Optional: true, ElementType: types.StringType,
						MarkdownDescription: "Exact tag names to keep.",
						Validators:          []validator.List{listvalidator.ValueStringsAre(tagValidator)},
					},
					"tag_regex": schema.StringAttribute{
						Optional: true, MarkdownDescription: "RE2 regular expression (unanchored) the selected tags match.",
						Validators: []validator.String{regexValidator},
					},
					"newest": schema.Int64Attribute{
						Optional: true, MarkdownDescription: "Keep only the newest N matching tags by `order_by`.",
						Validators: []validator.Int64{int64validator.AtLeast(1)},
					},
					"newer_than": schema.StringAttribute{
						Optional: true, MarkdownDescription: "Keep matching tags whose image was created less than this long ago (`168h`). " +
							"Images of unknown age (no `created`, the 1970 epoch reproducible builds write, or a part missing) are kept too, " +
							"when in doubt, and the plan warns \"Kept: age unknown\", naming those a `delete` block matches.",
						Validators: []validator.String{durationValidator},
					},
					"images": schema.ListAttribute{
						Optional: true, ElementType: types.StringType,
						MarkdownDescription: "Deployed images, kept whatever the rules say, as deployments write them: `host[:port]/repo:tag`, " +
							"`host/repo@sha256:...`, `host/repo:tag@sha256:...` (a Kubernetes pod's `image` and `imageID`). A tag keeps that tag; a digest keeps " +
							"every tag on it and on every tagged index that lists it (a platform manifest's index), and the referrers of what stays. " +
							"References to other registries are ignored and counted in `other_registry_images`; a digest the registry does not hold is a warning.",
						Validators: []validator.List{listvalidator.ValueStringsAre(imageValidator)},
					},
					"order_by": schema.StringAttribute{
						Optional: true, MarkdownDescription: "Ranking for `newest`: `created` (default; newest image first, unknown age last), `semver` (highest version first, a leading `v` allowed, non-versions last) or `name` (greatest name first, for sortable names such as dates or zero-padded build numbers).",
						Validators: []validator.String{stringvalidator.OneOf(orders...)},
					},
				}},
			},
			"delete": schema.ListNestedBlock{
				MarkdownDescription: "Tags to delete, unless a `keep` block keeps them; a tag is deleted when every condition of at least one block holds. " +
					"At least one block is required; `delete {}` deletes every tag not kept.",
				Validators: []validator.List{listvalidator.IsRequired(), listvalidator.SizeAtLeast(1)},
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"tag_regex": schema.StringAttribute{
						Optional: true, MarkdownDescription: "RE2 regular expression (unanchored) the tag matches.",
						Validators: []validator.String{regexValidator},
					},
					"older_than": schema.StringAttribute{
						Optional: true, MarkdownDescription: "The image was created more than this long ago (`720h`). Images of unknown age never match, so age alone never deletes them.",
						Validators: []validator.String{durationValidator},
					},
				}},
			},
		},
	}
}

func (r *RetentionPolicyResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var keepBlocks types.List // unknown when built by a dynamic block over unknown values
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("keep"), &keepBlocks)...)
	if resp.Diagnostics.HasError() || keepBlocks.IsUnknown() {
		return
	}
	var keeps []keepModel
	resp.Diagnostics.Append(keepBlocks.ElementsAs(ctx, &keeps, false)...)
	for i, k := range keeps {
		if k.Tags.IsNull() && k.TagRegex.IsNull() && k.Newest.IsNull() && k.NewerThan.IsNull() && k.Images.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("keep").AtListIndex(i), "Empty keep block",
				"This keep block selects nothing, which would keep every tag: set tags, tag_regex, newest, newer_than or images, or remove the block.")
		}
		if !k.OrderBy.IsNull() && k.Newest.IsNull() {
			resp.Diagnostics.AddAttributeWarning(path.Root("keep").AtListIndex(i).AtName("order_by"), "order_by without newest",
				"order_by only ranks tags for newest; without newest it has no effect.")
		}
	}
}

// selection is the repositories the policy governs (validated at plan time).
func (m retentionModel) selection() (retention.Selection, error) {
	return retention.NewSelection(m.Repositories, m.Exclude)
}

// policy converts the configuration; validators have already checked it.
func (m retentionModel) policy() retention.Policy {
	p := retention.Policy{DeleteReferrers: m.DeleteReferrers.ValueBool()}
	for _, k := range m.Keep {
		p.Keep = append(p.Keep, retention.KeepRule{
			Tags:      stringsOf(k.Tags),
			TagRegex:  optionalRegex(k.TagRegex),
			Newest:    int(k.Newest.ValueInt64()),
			NewerThan: optionalDuration(k.NewerThan),
			OrderBy:   retention.Order(k.OrderBy.ValueString()),
		})
	}
	for _, d := range m.Delete {
		p.Delete = append(p.Delete, retention.DeleteRule{TagRegex: optionalRegex(d.TagRegex), OlderThan: optionalDuration(d.OlderThan)})
	}
	return p
}

func optionalRegex(v types.String) *regexp.Regexp {
	if v.IsNull() {
		return nil
	}
	return regexp.MustCompile(v.ValueString())
}

func optionalDuration(v types.String) time.Duration {
	d, _ := parsePositiveDuration(v.ValueString())
	return d
}

// policyOutcome is what the policy does to the registry now.
type policyOutcome struct {
	repositories []string // those the policy governs
	decisions    []decisionModel
	protected    []retention.Spared
	otherImages  int
}

// values are the computed attributes the outcome sets besides the
// deletions themselves.
func (o policyOutcome) values() map[string]tftypes.Value {
	return map[string]tftypes.Value{
		"protected":             protectedValue(o.protected),
		"other_registry_images": number(o.otherImages),
	}
}

// decide runs the policy over every matching repository.
func (r *RetentionPolicyResource) decide(ctx context.Context, m retentionModel, diags *diag.Diagnostics) policyOutcome {
	selection, err := m.selection()
	if err != nil {
		diags.AddAttributeError(path.Root("repositories"), "Invalid repository pattern", err.Error())
		return policyOutcome{}
	}
	policy, others := r.policyOf(m, diags)
	if diags.HasError() {
		return policyOutcome{}
	}
	// Unset: estimated when the rules read every body anyway.
	policy.EstimateSpace = m.EstimateSpace.ValueBool() || (m.EstimateSpace.IsNull() && policy.NeedsCreated())
	plan, err := r.client.DecideRetention(ctx, selection, policy, r.now())
	if err != nil {
		diags.AddError("Cannot read the registry", err.Error())
		return policyOutcome{}
	}
	if len(plan.Repositories) == 0 {
		diags.AddWarning("No matching repository", fmt.Sprintf("No repository in the catalog matches %q: the policy deletes nothing.", m.Repositories))
	}
	if len(plan.MissingImages) > 0 {
		diags.AddAttributeWarning(path.Root("keep"), "Deployed image not found",
			fmt.Sprintf("The registry does not hold %s: nothing to keep for it. A deployment that names it cannot pull it either.",
				strings.Join(plan.MissingImages, ", ")))
	}
	if len(plan.Incomplete) > 0 {
		diags.AddWarning("Incomplete image",
			fmt.Sprintf("The registry lacks a part of %s. Their age is unknown: no older_than condition matches them and a keep block with newer_than keeps them, so age alone never deletes them. "+
				"Push them again, or delete them (registry_tag_deletion) if they are no longer needed.", strings.Join(plan.Incomplete, ", ")))
	}
	if n := len(plan.KeptUnknownAge); n > 0 {
		names := plan.KeptUnknownAge[:min(n, 20)] // reproducible builds can make every image of a repository one
		more := ""
		if n > len(names) {
			more = fmt.Sprintf(" and %d more", n-len(names))
		}
		diags.AddAttributeWarning(path.Root("keep"), "Kept: age unknown",
			fmt.Sprintf("A keep block with newer_than keeps %s%s, which a delete rule matches: their age is unknown (no created time, "+
				"the 1970 epoch that reproducible builds write, or a part of the image missing), and when in doubt the policy keeps. "+
				"Build images with their real time (SOURCE_DATE_EPOCH at the commit's time) so that they age, narrow that keep block's tag_regex, "+
				"or delete them with registry_tag_deletion.", strings.Join(names, ", "), more))
	}
	if len(plan.Dangling) > 0 {
		diags.AddWarning("Tag without a manifest",
			fmt.Sprintf("The registry lists %s, but serves no manifest for them: a push of the tag raced a deletion of its image "+
				"(the registry API cannot prevent that), or the tag was removed while the plan read it. They keep nothing and the policy leaves them. "+
				"Push the tag again, or remove it with registry_tag_deletion.", strings.Join(plan.Dangling, ", ")))
	}
	decisions := decisionModels(plan.Decisions)
	for i, b := range plan.Reclaimable {
		decisions[i].Bytes = &b
	}
	return policyOutcome{repositories: plan.Repositories, decisions: decisions, protected: plan.Spared, otherImages: others}
}

// policyOf is the configuration's policy with its deployed images on this
// registry or one of its replicas (a deployment that pulls from a mirror
// runs the primary's image: deleting it there would delete it on the
// mirror too), and how many name other registries.
func (r *RetentionPolicyResource) policyOf(m retentionModel, diags *diag.Diagnostics) (retention.Policy, int) {
	policy := m.policy()
	hosts := maps.Clone(r.client.Hosts())
	for _, rep := range m.Replicas {
		if client, err := r.replicaClient(context.Background(), rep); err == nil { // New does no I/O; a bad url is reported by planReplicas
			maps.Copy(hosts, client.Hosts())
		}
	}
	images, others, err := retention.ParseImages(m.images(), hosts)
	if err != nil { // validated at plan time, unless unknown then
		diags.AddAttributeError(path.Root("keep"), "Invalid image reference", err.Error())
	}
	policy.Images = images
	return policy, others
}

// images are the deployed image references of every keep block.
func (m retentionModel) images() []string {
	var out []string
	for _, k := range m.Keep {
		if !k.Images.IsNull() {
			out = append(out, stringsOf(k.Images)...)
		}
	}
	return out
}

func (r *RetentionPolicyResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		warnDestroyForgets(&resp.Diagnostics)
		return
	}
	if !req.Config.Raw.IsFullyKnown() {
		resp.Diagnostics.AddWarning("Deletions not previewed",
			"Part of this policy is known only after apply, so this plan cannot list what it deletes: the apply will decide "+
				"from the registry as it is then, still within max_deletions, and record what it deleted in deletions. "+
				"To review the deletions first, apply what the policy depends on (-target), then plan again.")
	}
	pending := priorDecisions(ctx, req.State.Raw, "pending_deletions", &resp.Diagnostics)
	source := deletionPlanSource(req, len(pending) > 0)
	if resp.Diagnostics.HasError() || r.client == nil {
		return
	}
	if !req.Config.Raw.IsFullyKnown() {
		r.claimPartlyKnown(ctx, req, &resp.Diagnostics)
		return
	}
	plan := configOf(ctx, req.Plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	var decisions []decisionModel
	var found map[string]tftypes.Value // the plan from pending keeps the refreshed values
	var governed []string              // the repositories the policy governs, when read
	switch source {
	case planFromRegistry:
		outcome := r.decide(ctx, plan, &resp.Diagnostics)
		decisions, found, governed = outcome.decisions, outcome.values(), outcome.repositories
	case planFromPending:
		decisions = pending
	}
	// Also a policy with nothing to plan governs its repositories: a new
	// policy over them must not plan deletions it would not.
	r.governors.claim(ctx, r.client, req.Config.Raw, plan, governed, &resp.Diagnostics)
	if resp.Diagnostics.HasError() || source == planNothing {
		return
	}
	checkMaxDeletions(plan.MaxDeletions, decisions, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := firstError(r.client.CheckEach(ctx, repositoriesOf(decisions), r.client.CheckDeletable)); err != nil {
		resp.Diagnostics.AddError("The registry will not accept the deletions", err.Error())
		return
	}
	warnUnrestorable(ctx, r.client, "", repositoriesOf(decisions), &resp.Diagnostics)
	if len(plan.Replicas) > 0 {
		if found == nil {
			found = map[string]tftypes.Value{}
		}
		maps.Copy(found, r.planReplicas(ctx, plan, decisions, &resp.Diagnostics))
		if resp.Diagnostics.HasError() {
			return
		}
	}
	aside := setAsideIn(ctx)
	lists, encodedLists := aside.decisionLists(map[string][]decisionModel{"deletions": decisions, "pending_deletions": nil})
	resp.Plan.Raw = plannedValue(r.client.Host(), resp.Plan.Raw, req.State.Raw, plan.Repositories, decisions, lists, found, &resp.Diagnostics)
	aside.replan(found, "pending_deletions", "deletions")
	encoded := encodedWith(resp.Plan.Raw, encodedLists, &resp.Diagnostics)
	// A plan from pending deletions repeats the refreshed state, but its
	// replicas are read live: recorded like a plan from the registry, so
	// that a replica changed between the plan and Terraform's planning
	// pass during apply does not make the two differ (the apply checks
	// the replica again and skips what changed).
	if source == planFromRegistry || len(plan.Replicas) > 0 {
		encoded = recordsOf(r.client, r.now).settle(retentionPolicyType, req, resp, encoded)
	}
	resp.Plan.Raw = aside.answer(resp.Plan.Raw, encoded)
}

// warnUnrestorable warns when the credentials cannot push to a repository
// with deletions: the apply could not put back a kept tag that a DELETE
// takes along in the registry API's window (it would fail instead). where
// prefixes the detail (a replica's host).
func warnUnrestorable(ctx context.Context, client *registry.Client, where string, repos []string, diags *diag.Diagnostics) {
	var refused []string
	for i, err := range client.CheckEach(ctx, repos, client.CheckRestorable) {
		if err != nil {
			refused = append(refused, fmt.Sprintf("%s (%v)", repos[i], err))
		}
	}
	if len(refused) > 0 {
		diags.AddWarning("Deletions cannot be repaired",
			where+"The apply journals what it deletes and puts back a kept tag or image that the registry API's window takes along "+
				"(a tag moved onto a planned digest just before its DELETE), which needs the right to push. These repositories refused "+
				"a push: "+strings.Join(refused, "; ")+". The apply still deletes only what the plan and the policy delete, "+
				"and fails, naming it, where a restore would be needed. Give the credentials push access to repair.")
	}
}

// firstError is the first non-nil error of errs, in order.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkMaxDeletions fails the plan before anything is deleted.
func checkMaxDeletions(limit types.Int64, decisions []decisionModel, diags *diag.Diagnostics) {
	if !limit.IsNull() && int64(len(decisions)) > limit.ValueInt64() {
		diags.AddAttributeError(path.Root("max_deletions"), "Too many deletions",
			fmt.Sprintf("The policy would delete %d digests (%d tags), more than max_deletions = %d: nothing is deleted. "+
				"Review the rules, or raise max_deletions.", len(decisions), countTags(decisions), limit.ValueInt64()))
	}
}

// Read records in pending_deletions what the policy would delete now, and
// keeps no deletions: what the last apply deleted stays out of later plans
// (see server.go), counted in summary.
func (r *RetentionPolicyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	state := configOf(ctx, req.State, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	outcome := r.decide(ctx, state, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	aside := setAsideIn(ctx)
	refreshed, encodedLists := aside.decisionLists(map[string][]decisionModel{"pending_deletions": outcome.decisions, "deletions": nil})
	maps.Copy(refreshed, outcome.values())
	refreshed["replica_deletions"] = tftypes.NewValue(replicaDeletionsType, map[string]tftypes.Value{}) // like deletions: the last apply's record
	resp.State.Raw = withAttributes(resp.State.Raw, refreshed, &resp.Diagnostics)
	resp.State.Raw = aside.answer(resp.State.Raw, encodedWith(resp.State.Raw, encodedLists, &resp.Diagnostics))
}

func (r *RetentionPolicyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	none := tftypes.NewValue(req.Plan.Raw.Type(), nil)
	recordsOf(r.client, r.now).forget(retentionPolicyType, req.Config.Raw, none)
	r.apply(ctx, none, req.Plan, &resp.State, &resp.Diagnostics)
}

func (r *RetentionPolicyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	recordsOf(r.client, r.now).forget(retentionPolicyType, req.Config.Raw, req.State.Raw)
	r.apply(ctx, req.State.Raw, req.Plan, &resp.State, &resp.Diagnostics)
}

// apply performs the planned deletions, repository by repository, each
// against a fresh look at the registry: an item whose tags moved since the
// plan is skipped with a warning. The planned deletions are always known
// here: Terraform plans again during apply, with every value known. The
// state is the plan, with applied saying what was done (see
// retention_applied.go).
func (r *RetentionPolicyResource) apply(ctx context.Context, prior tftypes.Value, planned tfsdk.Plan, state *tfsdk.State, diags *diag.Diagnostics) {
	deletions := plannedDecisions(ctx, planned.Raw, "deletions", diags)
	policy, _ := r.policyOf(configOf(ctx, planned, diags), diags)
	if diags.HasError() {
		return
	}
	// The apply deletes only what both the plan and the policy evaluated
	// against the registry now delete (registry.Batch.Policy).
	todo := registry.Batches(engineDecisions(deletions))
	for i := range todo {
		todo[i].Policy, todo[i].Now = &policy, r.now()
	}
	report, err := r.client.ExecuteBatches(ctx, todo)
	err = reportApplied(report, err, diags)
	// Also when the apply stopped: what it deleted before counts
	// (applied.deletions_id changes, so garbage collection triggered by it
	// runs), and Terraform keeps the state an apply returns with an error.
	state.Raw = withAttributes(planned.Raw, map[string]tftypes.Value{"applied": appliedAfter(prior, planned.Raw, report)}, diags)
	if err != nil {
		diags.AddError("Cannot apply the retention policy", fmt.Sprintf("%v\n\nDone before it stopped: %s. "+
			"Nothing else was deleted; the next plan shows what is left.", err, report.Summary()))
	}
	r.applyReplicas(ctx, configOf(ctx, planned, diags), planned.Raw, report, diags) // what the primary did, also when it stopped
}

// reportApplied reports what an apply did beyond its error, alike for
// registry_retention_policy and the explicit deletions
// (registry_manifest_deletion, registry_tag_deletion): each item it
// skipped, each thing it noticed and left (the journal not stored in the
// registry, a dangling tag left as it is, put-backs not deleted again)
// and each thing it put back is a warning, each loss an error of its own
// (reportLost). It returns the error that stopped the apply, without the
// losses: nil when there was none, or the losses were all of it.
func reportApplied(report registry.Report, err error, diags *diag.Diagnostics) error {
	for _, s := range report.Skipped {
		diags.AddWarning("Skipped a planned deletion", s)
	}
	for _, s := range report.Warnings {
		diags.AddWarning("Noticed during the apply", s)
	}
	for _, s := range report.Restored {
		diags.AddWarning("Put back during the apply", "The registry changed while the apply deleted (no client can prevent that: "+
			"the registry API has no conditional delete), and the apply put back what stays, from its journal: "+s)
	}
	return reportLost("Lost during the apply", "", report.Lost, err, diags)
}

// reportLost makes each loss of an apply (registry.Report.Lost: what it
// deleted, then had to put back, and could not) an error of its own, also
// when something else stopped the apply, and returns that other error
// (nil when the losses were all): a loss is never left unsaid behind the
// error that stopped the apply. where prefixes each loss's detail (a
// replica's host).
func reportLost(summary, where string, lost []string, err error, diags *diag.Diagnostics) error {
	for _, s := range lost {
		diags.AddError(summary, where+"The apply deleted what stays needs (a kept tag taken along by a DELETE, what a staying image uses) "+
			"and could not put it back: "+s+". Push it again; until garbage collection runs, registry_restore can put back what the apply "+
			"deleted where its journal was stored in the registry (see the warnings).")
	}
	if lostErr := (*registry.LostError)(nil); len(lost) > 0 && errors.As(err, &lostErr) {
		return lostErr.Cause // the losses are named above
	}
	return err
}

func (r *RetentionPolicyResource) Delete(_ context.Context, _ resource.DeleteRequest, _ *resource.DeleteResponse) {
	// Destroying a policy deletes nothing: ModifyPlan warned.
}

// plannedValue is a plan of this resource (its raw value) with id, the
// summary of the deletions the apply performs (deletions_id following the
// prior state's), lists (the values of deletions, with those decisions,
// and an empty pending_deletions: decisionLists) and the found values of a
// plan from the registry.
func plannedValue(registry string, plan, prior tftypes.Value, repositories []string, decisions []decisionModel,
	lists, found map[string]tftypes.Value, diags *diag.Diagnostics) tftypes.Value {
	attributes := map[string]tftypes.Value{
		"id":                tftypes.NewValue(tftypes.String, strings.Join(repositories, ",")),
		"summary":           summaryValue(registry, decisions, nextDeletionsID(deletionsIDOf(prior), decisions)),
		"applied":           plannedApplied(prior, len(decisions) > 0),
		"replica_deletions": tftypes.NewValue(replicaDeletionsType, map[string]tftypes.Value{}),
		"replica_summary":   tftypes.NewValue(replicaSummaryType, map[string]tftypes.Value{}),
	}
	maps.Copy(attributes, lists)
	maps.Copy(attributes, found)
	return withAttributes(plan, attributes, diags)
}
