package provider

import (
	"math/big"

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

// summaryValue counts the decisions in all and per repository.
func summaryValue(decisions []decisionModel) tftypes.Value {
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
	return tftypes.NewValue(summaryType, attributes)
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
