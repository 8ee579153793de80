package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// Replicas follow the policy's registry (the primary): the plan decides on
// the primary, and each replica deletes, by digest, exactly what those
// decisions delete where it holds the same thing (retention.FollowPrimary),
// never more; at apply, only what the primary's apply did delete. What a
// replica holds that the decisions do not name stays, and the plan says so.

type replicaModel struct {
	URL         types.String `tfsdk:"url"`
	Username    types.String `tfsdk:"username"`
	Password    types.String `tfsdk:"password"`
	BearerToken types.String `tfsdk:"bearer_token"`
}

var replicaBlock = schema.ListNestedBlock{
	MarkdownDescription: "A replica of this registry (a mirror per region, an air-gapped copy) that follows the policy's decisions: " +
		"they are made once, on the provider's registry, and a replica deletes exactly the digests they delete where it holds them, " +
		"and removes the tags they remove where they point at the same digest. A replica never deletes what the primary keeps, and what " +
		"it holds that the decisions do not name (images pushed there only, tags a lagging mirror has elsewhere) stays: `replica_deletions` lists only what it removes there, " +
		"and a manifest the primary deletes that something on the replica still uses is kept there with a warning. " +
		"The replica uses the provider's settings (concurrency, retries, TLS, cache) with its own URL and credentials. See the Several registries guide.",
	NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
		"url":          schema.StringAttribute{Required: true, MarkdownDescription: "The replica's base URL, as the provider's `url`."},
		"username":     schema.StringAttribute{Optional: true, MarkdownDescription: "Username for the replica."},
		"password":     schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "Password for the replica."},
		"bearer_token": schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "Bearer token for the replica, instead of username and password."},
	}},
}

var replicaDeletionsAttribute = schema.MapAttribute{
	Computed:    true,
	ElementType: types.ListType{ElemType: decisionObject.Type()},
	MarkdownDescription: "Per replica (by host): what it deletes to follow this plan's `deletions`, in the same shape. After apply, what the last " +
		"plan planned there (the apply performs only what the primary's apply did delete), until the next refresh empties it, as it does `deletions`.",
}

var replicaDeletionsType = tftypes.Map{ElementType: tftypes.List{ElementType: decisionObjectType}}

var replicaSummaryAttribute = schema.MapNestedAttribute{
	Computed: true,
	MarkdownDescription: "`replica_deletions` in numbers, per replica host, beside `summary` (the primary's): the line per registry a reviewer reads. " +
		"`bytes` is null (not estimated on replicas).",
	NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
		"tags":      schema.Int64Attribute{Computed: true, MarkdownDescription: "Tags removed on the replica."},
		"manifests": schema.Int64Attribute{Computed: true, MarkdownDescription: "Manifests deleted on the replica, with index children and referrers."},
		"bytes":     schema.Int64Attribute{Computed: true, MarkdownDescription: "Always null: not estimated on replicas."},
	}},
}

var replicaSummaryType = tftypes.Map{ElementType: countsType}

// replicaSummary counts each replica's planned deletions.
func replicaSummary(byRegistry map[string][]decisionModel) tftypes.Value {
	out := map[string]tftypes.Value{}
	for host, decisions := range byRegistry {
		var c counts
		for _, d := range decisions {
			c.add(d)
		}
		out[host] = tftypes.NewValue(countsType, c.attributes())
	}
	return tftypes.NewValue(replicaSummaryType, out)
}

// replicaClient builds the client of one replica block.
func (r *RetentionPolicyResource) replicaClient(ctx context.Context, m replicaModel) (*registry.Client, error) {
	return r.client.Replica(ctx, m.URL.ValueString(), m.Username.ValueString(), m.Password.ValueString(), m.BearerToken.ValueString())
}

// planReplicas works out each replica's part of the decisions: the
// values of replica_deletions and replica_summary.
func (r *RetentionPolicyResource) planReplicas(ctx context.Context, m retentionModel, decisions []decisionModel, diags *diag.Diagnostics) map[string]tftypes.Value {
	byRegistry := map[string][]decisionModel{}
	policy, _ := r.policyOf(m, diags) // its deployed images, a replica's host included, stay on the replica too
	for i, rep := range m.Replicas {
		client, err := r.replicaClient(ctx, rep)
		if err != nil {
			diags.AddAttributeError(path.Root("replica").AtListIndex(i).AtName("url"), "Invalid replica", err.Error())
			continue
		}
		byRepo := map[string][]retention.Decision{}
		for _, d := range engineDecisions(decisions) {
			byRepo[d.Repository] = append(byRepo[d.Repository], d)
		}
		plans, err := client.PlanReplicaRepositories(ctx, byRepo, policy.Images...)
		if err != nil {
			diags.AddError("Cannot read the replica "+client.Host(), err.Error())
			return nil
		}
		var planned []decisionModel
		var kept []string
		for _, repo := range repositoriesOf(decisions) {
			planned = append(planned, replicaDecisions(repo, plans[repo])...)
			for _, k := range plans[repo].Kept {
				kept = append(kept, repo+"@"+k)
			}
		}
		if err := firstError(client.CheckEach(ctx, repositoriesOf(planned), client.CheckDeletable)); err != nil {
			diags.AddError("The replica "+client.Host()+" will not accept the deletions", err.Error())
		} else {
			warnUnrestorable(ctx, client, "On the replica "+client.Host()+": ", repositoriesOf(planned), diags)
		}
		if len(kept) > 0 {
			diags.AddWarning("Kept on a replica", fmt.Sprintf("The replica %s keeps %d manifest(s) that the plan deletes on the primary, "+
				"because something there that the primary's decisions do not remove uses them (a mirror behind the primary, or pushes to the replica only): %s",
				client.Host(), len(kept), strings.Join(kept[:min(len(kept), 10)], "; ")))
		}
		byRegistry[client.Host()] = planned
	}
	lists := map[string]tftypes.Value{}
	for host, planned := range byRegistry {
		lists[host] = decisionsValue(planned)
	}
	return map[string]tftypes.Value{
		"replica_deletions": tftypes.NewValue(replicaDeletionsType, lists),
		"replica_summary":   replicaSummary(byRegistry),
	}
}

// replicaDecisions are a replica's plan of one repository as deletions.
func replicaDecisions(repo string, p retention.ReplicaPlan) []decisionModel {
	var out []decisionModel
	for _, m := range p.Manifests {
		out = append(out, decisionModel{Repository: repo, Digest: m.Digest, Action: string(retention.DeleteManifest),
			Tags: nonNil(m.Tags), Children: nonNil(m.Children), Referrers: nonNil(m.Referrers), Reason: "deleted on the primary"})
	}
	byDigest := map[string][]string{}
	for tag, digest := range p.Untag {
		byDigest[digest] = append(byDigest[digest], tag)
	}
	for _, digest := range slices.Sorted(maps.Keys(byDigest)) {
		tags := byDigest[digest]
		slices.Sort(tags)
		out = append(out, decisionModel{Repository: repo, Digest: digest, Action: string(retention.Untag),
			Tags: tags, Children: []string{}, Referrers: []string{}, Reason: "removed on the primary; the manifest stays on the replica"})
	}
	return out
}

// applyReplicas carries out each replica's planned part of what the
// primary's apply did (report.Performed), after it.
func (r *RetentionPolicyResource) applyReplicas(ctx context.Context, m retentionModel, planned tftypes.Value, report registry.Report, diags *diag.Diagnostics) {
	var byRegistry map[string]tftypes.Value
	v, err := plannedList(ctx, planned, "replica_deletions")
	if err != nil {
		diags.AddError("Internal error", fmt.Sprintf("Reading replica_deletions: %v. Please report this to the provider's developers.", err))
		return
	}
	if !v.IsKnown() || v.IsNull() || v.As(&byRegistry) != nil {
		return
	}
	policy, _ := r.policyOf(m, diags)
	for i, rep := range m.Replicas {
		client, err := r.replicaClient(ctx, rep)
		if err != nil {
			diags.AddAttributeError(path.Root("replica").AtListIndex(i).AtName("url"), "Invalid replica", err.Error())
			continue
		}
		var todo []registry.Batch
		for _, b := range registry.ReplicaBatches(engineDecisions(decisionsOf(byRegistry[client.Host()], diags)), policy.Images) {
			if b = report.Performed[b.Repository].Narrow(b); len(b.Manifests)+len(b.Untag) > 0 {
				todo = append(todo, report.Follow(b)) // one apply_id undoes the apply on the primary and on each replica
			}
		}
		if len(todo) == 0 {
			continue
		}
		done, err := client.ExecuteBatches(ctx, todo)
		for _, s := range done.Skipped {
			diags.AddWarning("Skipped on a replica", client.Host()+": "+s)
		}
		for _, s := range append(done.Warnings, done.Restored...) {
			diags.AddWarning("Noticed on a replica", client.Host()+": "+s)
		}
		if err := reportLost("Lost on a replica", client.Host()+": ", done.Lost, err, diags); err != nil {
			diags.AddError("Cannot apply to the replica "+client.Host(), fmt.Sprintf("%v\n\nDone there before it stopped: %s. "+
				"What the primary's apply did stands; the replica keeps the rest of it until you delete it there (registry_manifest_deletion, registry_tag_deletion).", err, done.Summary()))
		}
	}
}
