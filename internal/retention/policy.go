package retention

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Policy is a retention policy for the repositories it is applied to.
type Policy struct {
	Keep            []KeepRule
	Delete          []DeleteRule
	DeleteReferrers bool
	// Images are deployed images: kept whatever the rules say.
	Images []Image
	// EstimateSpace asks for the bytes each deletion lets garbage
	// collection free (Reclaimable), which needs every manifest body.
	EstimateSpace bool
}

// KeepRule selects tags to keep. Tags keeps exact names. The selection part
// applies when any of TagRegex, Newest or NewerThan is set: tags matching
// TagRegex (all when nil), narrowed to the Newest by OrderBy and/or those
// created within NewerThan (the union when both are set). An image of
// unknown age counts as created within NewerThan: when in doubt, keep
// (Outcome.KeptUnknownAge names those it saves). Newest by created ranks
// unknown age last. The newest by name are the greatest names
// ("build-0042" before "build-0041"). Referrer tags are never kept by a
// rule: they follow their subject.
type KeepRule struct {
	Tags      []string
	TagRegex  *regexp.Regexp
	Newest    int           // 0: not set
	NewerThan time.Duration // 0: not set; unknown-age images match
	OrderBy   Order         // for Newest; ByCreated when empty
}

// DeleteRule matches tags to delete: every set condition must hold.
type DeleteRule struct {
	TagRegex  *regexp.Regexp // nil: every tag
	OlderThan time.Duration  // 0: not set; unknown-age images never match
}

// Repository is one repository's snapshot: every tag with its digest and
// created time (zero when unknown or not fetched), the children of every
// index a tag reaches, and the subjects of the manifests whose bodies were
// read.
type Repository struct {
	Name string
	Tags []Tag
	Links
	// GoneSubjects are subjects of referrer tags that the registry says
	// no longer exist: their referrers are garbage.
	GoneSubjects map[string]bool
	// Blobs maps each tagged manifest to every blob it holds, its own body
	// first; nil when the bodies were not read (see Reclaimable).
	Blobs map[string][]Blob
}

// Blob is one stored blob: a manifest body, an image config or a layer.
type Blob struct {
	Digest string
	Size   int64
}

// Action is what happens to a digest.
type Action string

const (
	// DeleteManifest deletes the manifest by digest: every tag on it was
	// deleted by the policy.
	DeleteManifest Action = "delete_manifest"
	// Untag removes only some tags: another tag on the digest is kept.
	Untag Action = "untag"
)

// Decision is one pending change to one digest.
type Decision struct {
	Repository string
	Digest     string
	Action     Action
	// Tags are the tags removed: for DeleteManifest every tag on the digest
	// (with its referrers' fallback tags when they are deleted too).
	Tags []string
	// Referrers are deleted after a DeleteManifest digest, with or after
	// its Children: the subject first, so that an apply stopped in between
	// leaves orphan referrers (which the next plan lists), never an image
	// without its signatures (see the Safety guide).
	Referrers []string
	// Children are index children that nothing kept references, deleted
	// after a DeleteManifest digest.
	Children []string
	// Reason names the rule that deleted the tags.
	Reason string
}

// NeedsCreated reports whether deciding needs image creation times, which
// cost a manifest and a config fetch per image; without them a HEAD per tag
// is enough.
func (p Policy) NeedsCreated() bool {
	for _, k := range p.Keep {
		if k.NewerThan > 0 || (k.Newest > 0 && orderOf(k) == ByCreated) {
			return true
		}
	}
	for _, d := range p.Delete {
		if d.OlderThan > 0 {
			return true
		}
	}
	return false
}

func orderOf(k KeepRule) Order {
	if k.OrderBy == "" {
		return ByCreated
	}
	return k.OrderBy
}

// selects reports whether the rule's selection part is in use.
func (k KeepRule) selects() bool {
	return k.TagRegex != nil || k.Newest > 0 || k.NewerThan > 0
}

func (k KeepRule) describe(i int) string {
	var parts []string
	if len(k.Tags) > 0 {
		parts = append(parts, fmt.Sprintf("tags %q", k.Tags))
	}
	if k.TagRegex != nil {
		parts = append(parts, fmt.Sprintf("tag_regex %q", k.TagRegex.String()))
	}
	if k.Newest > 0 {
		parts = append(parts, fmt.Sprintf("newest %d by %s", k.Newest, orderOf(k)))
	}
	if k.NewerThan > 0 {
		parts = append(parts, "newer_than "+k.NewerThan.String())
	}
	return fmt.Sprintf("keep[%d] (%s)", i, strings.Join(parts, ", "))
}

func (d DeleteRule) describe(i int) string {
	var parts []string
	if d.TagRegex != nil {
		parts = append(parts, fmt.Sprintf("tag_regex %q", d.TagRegex.String()))
	}
	if d.OlderThan > 0 {
		parts = append(parts, "older_than "+d.OlderThan.String())
	}
	if len(parts) == 0 {
		parts = append(parts, "every tag not kept")
	}
	return fmt.Sprintf("delete[%d] (%s)", i, strings.Join(parts, ", "))
}

// IsReferrerTag reports whether tag follows the referrers tag schema,
// "<algorithm>-<hex>[.suffix]" (cosign's .sig/.att/.sbom, the OCI fallback
// index): such tags belong to their subject, are never matched by rules
// and follow the subject when it is deleted.
func IsReferrerTag(tag string) bool {
	alg, rest, ok := strings.Cut(tag, "-")
	if !ok {
		return false
	}
	hexPart, _, _ := strings.Cut(rest, ".")
	_, err := v1.NewHash(alg + ":" + hexPart)
	return err == nil
}

// SubjectOf returns the subject a referrer tag names ("sha256-<hex>.sig"
// names "sha256:<hex>"), and false for any other tag.
func SubjectOf(tag string) (string, bool) {
	if !IsReferrerTag(tag) {
		return "", false
	}
	return referrerSubject(tag), true
}
