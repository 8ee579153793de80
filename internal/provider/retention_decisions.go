package provider

// The deletions of a policy's plan (deletions, pending_deletions, replica_deletions):
// their model and raw type, and the conversions to and from the engine's decisions.

import (
	"context"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// decisionModel is one entry of deletions / pending_deletions.
type decisionModel struct {
	Repository string   `tfsdk:"repository"`
	Digest     string   `tfsdk:"digest"`
	Action     string   `tfsdk:"action"`
	Tags       []string `tfsdk:"tags"`
	Referrers  []string `tfsdk:"referrers"`
	Children   []string `tfsdk:"children"`
	Reason     string   `tfsdk:"reason"`
	Bytes      *int64   `tfsdk:"bytes"` // nil: not estimated
}

// decisionObject is one entry of deletions / pending_deletions; the raw
// values the plan is built from (decisionsValue) take its type.
var decisionObject = schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
	"repository": schema.StringAttribute{Computed: true, MarkdownDescription: "Repository."},
	"digest":     schema.StringAttribute{Computed: true, MarkdownDescription: "Manifest digest."},
	"action":     schema.StringAttribute{Computed: true, MarkdownDescription: "`delete_manifest` (every tag on the digest goes, so the manifest is deleted by digest) or `untag` (only these tags go: another tag keeps the manifest)."},
	"tags":       schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Tags removed."},
	"referrers":  schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Referrers (signatures, attestations, SBOMs) deleted after the manifest and its children."},
	"children":   schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Index children deleted after the manifest."},
	"reason":     schema.StringAttribute{Computed: true, MarkdownDescription: "The rule that deletes the tags, and for `untag` the tags that keep the manifest."},
	"bytes": schema.Int64Attribute{Computed: true, MarkdownDescription: "Bytes garbage collection can free once this is deleted (see `estimate_space`): " +
		"blobs no manifest staying tagged in the policy's repositories holds, each counted once. Null when not estimated."},
}}

var decisionObjectType = decisionObject.Type().TerraformType(context.Background())

func decisionModels(decisions []retention.Decision) []decisionModel {
	out := make([]decisionModel, len(decisions))
	for i, d := range decisions {
		out[i] = decisionModel{
			Repository: d.Repository, Digest: d.Digest, Action: string(d.Action), Reason: d.Reason,
			Tags: nonNil(d.Tags), Referrers: nonNil(d.Referrers), Children: nonNil(d.Children),
		}
	}
	return out
}

// engineDecisions are decisions as the plan lists them, back in the
// engine's shape (decisionModels' inverse).
func engineDecisions(models []decisionModel) []retention.Decision {
	out := make([]retention.Decision, len(models))
	for i, d := range models {
		out[i] = retention.Decision{Repository: d.Repository, Digest: d.Digest, Action: retention.Action(d.Action), Reason: d.Reason,
			Tags: d.Tags, Referrers: d.Referrers, Children: d.Children}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// decisionsValue is the raw value of deletions / pending_deletions.
func decisionsValue(decisions []decisionModel) tftypes.Value {
	elems := make([]tftypes.Value, len(decisions))
	for i, d := range decisions {
		elems[i] = tftypes.NewValue(decisionObjectType, map[string]tftypes.Value{
			"repository": tftypes.NewValue(tftypes.String, d.Repository),
			"digest":     tftypes.NewValue(tftypes.String, d.Digest),
			"action":     tftypes.NewValue(tftypes.String, d.Action),
			"tags":       stringsValue(d.Tags),
			"referrers":  stringsValue(d.Referrers),
			"children":   stringsValue(d.Children),
			"reason":     tftypes.NewValue(tftypes.String, d.Reason),
			"bytes":      optionalNumber(d.Bytes),
		})
	}
	return tftypes.NewValue(tftypes.List{ElementType: decisionObjectType}, elems)
}

func stringsValue(values []string) tftypes.Value {
	elems := make([]tftypes.Value, len(values))
	for i, v := range values {
		elems[i] = tftypes.NewValue(tftypes.String, v)
	}
	return tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, elems)
}

func stringsOf(v attr.Value) []string {
	elems := v.(types.List).Elements()
	out := make([]string, len(elems))
	for i, e := range elems {
		out[i] = e.(types.String).ValueString()
	}
	return out
}

// batches groups decisions by repository for the registry client.
func repositoriesOf(decisions []decisionModel) []string {
	var repos []string
	for _, d := range decisions {
		if !slices.Contains(repos, d.Repository) {
			repos = append(repos, d.Repository)
		}
	}
	return repos
}

func countTags(decisions []decisionModel) int {
	n := 0
	for _, d := range decisions {
		n += len(d.Tags)
	}
	return n
}
