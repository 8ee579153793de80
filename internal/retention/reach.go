package retention

import (
	"maps"
	"slices"
)

// Links are what manifests say about each other, as far as a snapshot
// read them: an index's children, and the subject a referrer (signature,
// attestation, SBOM) names.
type Links struct {
	Children map[string][]string // index digest -> child digests
	Subjects map[string]string   // referrer digest -> subject digest
}

// Edges are how manifests refer to each other, in whatever a caller names
// them by (a digest string here, a blob number in garbage collection). A
// nil field is an edge not followed.
type Edges[D comparable] struct {
	// Children are the manifests an index lists.
	Children func(D) []D
	// Subject is the manifest a referrer (signature, attestation, SBOM)
	// names, if any.
	Subject func(D) (D, bool)
	// Referrers are the manifests naming D as their subject.
	Referrers func(D) []D
}

// Pinned returns every manifest that pinned digests keep alive: the digests
// a deployment names (keep { images }, garbage collection's images), the
// children of every index among them however deep, the subject every one of
// them names, and the referrers of every one of them (signatures and SBOMs
// follow their subject), each in turn keeping what it reaches. A pinned
// digest is in use, so nothing it reaches may go: this is the one rule that
// the retention policy, explicit deletions and garbage collection heed.
func Pinned[D comparable](e Edges[D], pinned ...D) map[D]bool {
	kept := map[D]bool{}
	walk(kept, e, pinned...)
	return kept
}

// walk adds to reached the roots and what they reach along e. The caller's
// roots are left as they were.
func walk[D comparable](reached map[D]bool, e Edges[D], roots ...D) {
	roots = slices.Clone(roots)
	for len(roots) > 0 {
		d := roots[len(roots)-1]
		roots = roots[:len(roots)-1]
		if reached[d] {
			continue
		}
		reached[d] = true
		if e.Children != nil {
			roots = append(roots, e.Children(d)...)
		}
		if e.Subject != nil {
			if subject, ok := e.Subject(d); ok {
				roots = append(roots, subject)
			}
		}
		if e.Referrers != nil {
			roots = append(roots, e.Referrers(d)...)
		}
	}
}

// edges are the links as Pinned follows them: children, subjects, and
// referrers by the subject their bodies name.
func (l Links) edges() Edges[string] {
	var referrers map[string][]string // subject -> referrers, built when first asked
	return Edges[string]{
		Children: l.children,
		Subject:  l.subject,
		Referrers: func(d string) []string {
			if referrers == nil {
				referrers = map[string][]string{}
				for referrer, subject := range l.Subjects {
					referrers[subject] = append(referrers[subject], referrer)
				}
			}
			return referrers[d]
		},
	}
}

func (l Links) children(d string) []string { return l.Children[d] }

func (l Links) subject(d string) (string, bool) {
	s := l.Subjects[d]
	return s, s != ""
}

// Pinned returns what the pinned digests keep alive (Pinned).
func (l Links) Pinned(pinned ...string) map[string]bool {
	if len(pinned) == 0 {
		return map[string]bool{}
	}
	return Pinned(l.edges(), pinned...)
}

// Reach returns every digest that the roots keep alive: the roots, every
// child of an index among them however deep, and the subject of every
// manifest among them (deleting a subject would orphan a tagged image that
// names it). Deleting any of them would break something that stays.
func (l Links) Reach(roots ...string) map[string]bool {
	reached := map[string]bool{}
	walk(reached, Edges[string]{Children: l.children, Subject: l.subject}, roots...)
	return reached
}

// Keep is Reach over the digests of tags that stay, where referrerRoots
// are those of referrer tags ("sha256-<hex>.sig"): a referrer tag follows
// its subject rather than keeping it, so only its children count. With
// pinned digests (deployed images), what they keep (Pinned) is kept too.
func (l Links) Keep(roots, referrerRoots []string, pinned ...string) map[string]bool {
	kept := l.Reach(roots...)
	walk(kept, Edges[string]{Children: l.children}, referrerRoots...)
	maps.Copy(kept, l.Pinned(pinned...))
	return kept
}

// settleReferrers is the one rule for referrer tags that would go with
// their subject: one stays after all when stays says so given what
// survives (for both callers: when something that stays keeps what it
// points at), and what a staying referrer tag points at survives in turn,
// which can make another stay: until no more stay. survivorsWith says
// what survives while the referrer tags in staying stay. It returns the
// referrer tags that stay, by name, and what survives then.
func settleReferrers(candidates []Tag, survivorsWith func(staying map[string]bool) map[string]bool,
	stays func(t Tag, survivors map[string]bool) bool) (staying, survivors map[string]bool) {
	staying = map[string]bool{}
	for more := true; more; {
		survivors = survivorsWith(staying)
		more = false
		for _, t := range candidates {
			if !staying[t.Name] && stays(t, survivors) {
				staying[t.Name] = true
				more = true
			}
		}
	}
	return staying, survivors
}
