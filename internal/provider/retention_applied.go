package provider

import (
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

// applied is what the last apply of a policy did, which may be less than
// its plan: `deletions` and `summary` are the reviewed plan, and Terraform
// refuses an apply result that differs from a value the plan knew. So a
// plan with deletions leaves applied unknown, and the apply records the
// registry's answer: items skipped because the registry changed since the
// plan are not counted, and deletions_id changes only when something was
// deleted, which makes it the garbage collection trigger that fires only
// on real deletions.

var appliedAttribute = schema.SingleNestedAttribute{
	Computed: true,
	MarkdownDescription: "What the last apply did, which can be less than its plan (`deletions` and `summary` are the plan as reviewed): " +
		"an item the registry contradicted at apply time is skipped, not counted here, and named in `skipped`. Unknown in a plan with deletions; " +
		"refreshes and plans without deletions keep it.",
	Attributes: map[string]schema.Attribute{
		"deletions_id": schema.StringAttribute{
			Computed: true,
			MarkdownDescription: "Changes exactly when an apply deleted a manifest or removed a tag; applies that skip everything keep it. " +
				"The trigger for garbage collection after deletions: `triggers = { deletions = registry_retention_policy.apps.applied.deletions_id }` " +
				"(`registry_garbage_collection` runs again only when the value it finds at apply differs). Empty until the first apply that deletes.",
		},
		"manifests": schema.Int64Attribute{Computed: true, MarkdownDescription: "Manifests the last apply deleted by digest (those it put back not counted)."},
		"untagged":  schema.Int64Attribute{Computed: true, MarkdownDescription: "Tags the last apply removed from manifests that stay."},
		"skipped": schema.ListAttribute{
			Computed: true, ElementType: types.StringType,
			MarkdownDescription: "Planned items the last apply did not perform, and why (the registry changed since the plan).",
		},
		"restored": schema.ListAttribute{
			Computed: true, ElementType: types.StringType,
			MarkdownDescription: "What the last apply put back from its journal after the registry changed during a DELETE, and why.",
		},
	},
}

var appliedType = tftypes.Object{AttributeTypes: map[string]tftypes.Type{
	"deletions_id": tftypes.String, "manifests": tftypes.Number, "untagged": tftypes.Number,
	"skipped": tftypes.List{ElementType: tftypes.String}, "restored": tftypes.List{ElementType: tftypes.String},
}}

// plannedApplied is applied in a plan: unknown when the plan deletes,
// otherwise the prior state's (none yet: an apply that did nothing).
func plannedApplied(prior tftypes.Value, deletes bool) tftypes.Value {
	if deletes {
		return tftypes.NewValue(appliedType, tftypes.UnknownValue)
	}
	return priorApplied(prior)
}

// priorApplied is a state's applied, or that of an apply that did nothing.
func priorApplied(state tftypes.Value) tftypes.Value {
	if v := rawAttribute(state, "applied"); v.IsKnown() && !v.IsNull() && v.Type().Equal(appliedType) {
		return v
	}
	return appliedValue(registry.Report{}, "")
}

// appliedValue records report; deletionsID is the one to keep when the
// apply changed nothing, the next one otherwise.
func appliedValue(report registry.Report, deletionsID string) tftypes.Value {
	return tftypes.NewValue(appliedType, map[string]tftypes.Value{
		"deletions_id": tftypes.NewValue(tftypes.String, deletionsID),
		"manifests":    number(report.Deleted),
		"untagged":     number(report.Untagged),
		"skipped":      stringsValue(report.Skipped),
		"restored":     stringsValue(report.Restored),
	})
}

// appliedAfter is applied after an apply that produced report, from the
// prior state and the plan's summary.deletions_id (a new value whenever the
// plan deletes, see retention_summary.go).
func appliedAfter(prior, planned tftypes.Value, report registry.Report) tftypes.Value {
	id := appliedDeletionsID(prior)
	if report.Deleted+report.Untagged > 0 {
		id = deletionsIDOf(planned)
	}
	return appliedValue(report, id)
}

// appliedDeletionsID is applied.deletions_id of a state, "" when none.
func appliedDeletionsID(state tftypes.Value) string {
	var s string
	if id := rawAttribute(priorApplied(state), "deletions_id"); id.As(&s) != nil {
		return ""
	}
	return s
}
