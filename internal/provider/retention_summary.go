package provider

import (
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// The raw types of summary, built by hand as the deletions are (see
// withAttributes): the schema in resource_retention_policy.go declares the
// same shape.
var (
	countsType  = tftypes.Object{AttributeTypes: map[string]tftypes.Type{"tags": tftypes.Number, "manifests": tftypes.Number, "bytes": tftypes.Number}}
	summaryType = tftypes.Object{AttributeTypes: map[string]tftypes.Type{
		"tags": tftypes.Number, "manifests": tftypes.Number, "bytes": tftypes.Number, "repositories": tftypes.Map{ElementType: countsType},
		"deletions_id": tftypes.String, "registry": tftypes.String,
	}}
)

// counts are what deletions remove; bytes only when every deletion's are
// estimated.
type counts struct {
	tags, manifests int
	bytes           *int64
	unknownBytes    bool
}

func (c *counts) add(d decisionModel) {
	c.tags += len(d.Tags)
	if retention.Action(d.Action) == retention.DeleteManifest {
		c.manifests += 1 + len(d.Children) + len(d.Referrers)
	}
	switch {
	case d.Bytes == nil:
		c.unknownBytes = true
	case c.bytes == nil:
		c.bytes = new(*d.Bytes)
	default:
		*c.bytes += *d.Bytes
	}
}

func (c counts) attributes() map[string]tftypes.Value {
	bytes := c.bytes
	if c.unknownBytes {
		bytes = nil
	}
	return map[string]tftypes.Value{"tags": number(c.tags), "manifests": number(c.manifests), "bytes": optionalNumber(bytes)}
}

// summaryValue counts the decisions in all and per repository, with the
// deletions_id of the plan (nextDeletionsID) and the registry's host.
func summaryValue(registry string, decisions []decisionModel, deletionsID string) tftypes.Value {
	var total counts
	perRepository := map[string]*counts{}
	for _, d := range decisions {
		total.add(d)
		if perRepository[d.Repository] == nil {
			perRepository[d.Repository] = &counts{}
		}
		perRepository[d.Repository].add(d)
	}
	repositories := make(map[string]tftypes.Value, len(perRepository))
	for repo, c := range perRepository {
		repositories[repo] = tftypes.NewValue(countsType, c.attributes())
	}
	attributes := total.attributes()
	attributes["repositories"] = tftypes.NewValue(tftypes.Map{ElementType: countsType}, repositories)
	attributes["deletions_id"] = tftypes.NewValue(tftypes.String, deletionsID)
	attributes["registry"] = tftypes.NewValue(tftypes.String, registry)
	return tftypes.NewValue(summaryType, attributes)
}

// summary.deletions_id changes exactly when an apply deletes something, so
// that garbage collection can be triggered by it: `deletions` cannot be,
// since refresh empties it. A plan with deletions derives a new value from
// the prior one and the deletions; any other plan keeps the prior value,
// and refreshes never touch summary. The value is known at plan time and
// the same in both of Terraform's planning passes (a random or time-based
// one would make the second pass differ), and as it chains from the prior
// value, the same deletions applied twice (an image pushed again) still
// give a new value each time.

// deletionsIDOf is summary.deletions_id of a policy's state, "" when
// there is none (a new policy, or a state written before the attribute).
func deletionsIDOf(state tftypes.Value) string {
	id := rawAttribute(rawAttribute(state, "summary"), "deletions_id")
	var s string
	if !id.IsKnown() || id.IsNull() || id.As(&s) != nil {
		return ""
	}
	return s
}

// nextDeletionsID is the deletions_id of a plan: prior when it deletes
// nothing, otherwise 16 hex digits of a hash of prior and the deletions.
func nextDeletionsID(prior string, decisions []decisionModel) string {
	if len(decisions) == 0 {
		return prior
	}
	h := sha256.New()
	h.Write([]byte(prior + "\n"))
	for _, d := range decisions {
		h.Write([]byte(strings.Join([]string{d.Repository, d.Digest, d.Action, strings.Join(d.Tags, ",")}, " ") + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// protectedValue is the raw value of protected.
func protectedValue(spared []retention.Spared) tftypes.Value {
	elems := make([]tftypes.Value, len(spared))
	for i, s := range spared {
		elems[i] = tftypes.NewValue(protectedObjectType, map[string]tftypes.Value{
			"repository": tftypes.NewValue(tftypes.String, s.Repository),
			"digest":     tftypes.NewValue(tftypes.String, s.Digest),
			"tags":       stringsValue(s.Tags),
			"reason":     tftypes.NewValue(tftypes.String, s.Reason),
		})
	}
	return tftypes.NewValue(tftypes.List{ElementType: protectedObjectType}, elems)
}

func number(n int) tftypes.Value { return tftypes.NewValue(tftypes.Number, big.NewFloat(float64(n))) }

// optionalNumber is n, or null when nil.
func optionalNumber(n *int64) tftypes.Value {
	if n == nil {
		return tftypes.NewValue(tftypes.Number, nil)
	}
	return tftypes.NewValue(tftypes.Number, new(big.Float).SetInt64(*n))
}
