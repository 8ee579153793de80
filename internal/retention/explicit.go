package retention

import (
	"maps"
	"slices"
	"strings"
)

// What goes with a digest, for explicit deletions (registry_manifest_deletion,
// registry_tag_deletion) as for the policy (decide.go): the same survivors,
// index children and referrers, written once. Pure: the registry client
// reads the repository and performs the plan.

// ManifestPlan is what deleting one manifest by digest removes.
type ManifestPlan struct {
	Digest string
	// Tags point at Digest, and with referrers, the referrers' fallback
	// tags: the registry removes them with the digests.
	Tags []string
	// Referrers (signatures, attestations, SBOMs) of Digest and of the
	// deleted children, deleted after them.
	Referrers []string
	// Children of an index that nothing that stays references, deleted
	// after it.
	Children []string
	// BrokenIndexes maps each tagged manifest that stays and uses Digest (an
	// index listing it however deep, an image naming it as its subject)
	// to its tags: deleting Digest breaks them.
	BrokenIndexes map[string][]string
}

// TagPlan is what removing some tags does.
type TagPlan struct {
	// Tags maps each requested tag that exists to the digest it points at.
	Tags map[string]string
	// Untagged lists, in deletion order, the manifests that the removed
	// tags leave with no tag: each followed by its index children and
	// referrers that nothing that stays references.
	Untagged []string
}

// PlanManifestDeletion works out what deleting digest removes. Referrers
// are those the fallback tag schema names, plus apiReferrers (by subject),
// which a registry with the OCI referrers API reported.
func (r Repository) PlanManifestDeletion(digest string, withReferrers bool, apiReferrers map[string][]string) ManifestPlan {
	p := r.takeAlong([]string{digest}, setOf(r.TagsOn(digest)), withReferrers, apiReferrers)[0]
	p.BrokenIndexes = r.parentsOf(digest)
	return p
}

// PlanTagDeletion works out what removing tags does; tags that do not
// exist are left out. With deleteUntagged, the manifests left with no tag
// are deleted, with what goes with them.
func (r Repository) PlanTagDeletion(tags []string, deleteUntagged bool) TagPlan {
	p := TagPlan{Tags: map[string]string{}}
	wanted := setOf(tags)
	for _, t := range r.Tags {
		if wanted[t.Name] {
			p.Tags[t.Name] = t.Digest
		}
	}
	if deleteUntagged {
		p.Untagged = r.Untagged(slices.Collect(maps.Values(p.Tags)), setOf(slices.Collect(maps.Keys(p.Tags))))
	}
	return p
}

// Untagged returns which of candidates nothing references once the tags in
// removed are gone, each followed by its children and referrers that go
// with it: in deletion order (a subject before what refers to it, so a
// failure never leaves a kept image unsigned), without repeats.
func (r Repository) Untagged(candidates []string, removed map[string]bool) []string {
	survivors := r.Survivors(removed)
	var going []string
	for _, d := range candidates {
		if !survivors[d] {
			going = appendNew(going, d)
		}
	}
	slices.Sort(going)
	var order []string
	seen := map[string]bool{}
	for _, p := range r.takeAlong(going, removed, true, nil) {
		for _, d := range append(append([]string{p.Digest}, p.Children...), p.Referrers...) {
			if !seen[d] {
				seen[d] = true
				order = append(order, d)
			}
		}
	}
	return order
}

// takeAlong works out, for each of the going digests, what deleting it
// takes along once the tags in removed are gone (they are all deleted
// together: a child two of them list goes with the first). With
// referrers, the referrers of a going digest and of its going children
// follow it however deep (followReferrers), with what they point at,
// unless that stays anyway: then the referrer tag stays too, and keeps
// what it points at.
func (r Repository) takeAlong(going []string, removed map[string]bool, withReferrers bool, apiReferrers map[string][]string) []ManifestPlan {
	removed = maps.Clone(removed)
	if removed == nil {
		removed = map[string]bool{}
	}
	survivors := r.Survivors(removed)
	var follow map[string]*followers // going digest -> what follows it
	if withReferrers {
		var candidates []Tag // the referrer tags that may follow
		for _, t := range r.Tags {
			if IsReferrerTag(t.Name) && !removed[t.Name] {
				candidates = append(candidates, t)
			}
		}
		var following map[string]bool
		_, survivors = settleReferrers(candidates, func(staying map[string]bool) map[string]bool {
			gone := maps.Clone(removed)
			for _, t := range candidates {
				if !staying[t.Name] {
					gone[t.Name] = true
				}
			}
			survivors := r.Survivors(gone)
			owner := map[string]string{}
			for _, digest := range going {
				owner[digest] = digest
			}
			for _, digest := range going {
				for _, child := range r.Children[digest] {
					if !survivors[child] && owner[child] == "" {
						owner[child] = digest
					}
				}
			}
			follow, following = r.followReferrers(owner, survivors, apiReferrers)
			return survivors
		}, func(t Tag, _ map[string]bool) bool { return !following[t.Name] })
	}
	plans := make([]ManifestPlan, len(going))
	taken := map[string]bool{}
	for i, digest := range going {
		p := ManifestPlan{Digest: digest, Tags: r.TagsOn(digest)}
		children, referrers := r.dependents(digest, survivors, follow[digest])
		for _, d := range children {
			if !taken[d] {
				taken[d] = true
				p.Children = append(p.Children, d)
			}
		}
		if f := follow[digest]; f != nil {
			for _, t := range f.Tags {
				p.Tags = appendNew(p.Tags, t.Name)
			}
		}
		for _, d := range referrers {
			if !taken[d] && !slices.Contains(p.Children, d) {
				taken[d] = true
				p.Referrers = append(p.Referrers, d)
			}
		}
		slices.Sort(p.Tags)
		plans[i] = p
	}
	return plans
}

// followers are what follows one manifest deletion when delete_referrers
// asks: the referrer tags that go with it, sorted by name, and the
// referrers they point at (a signature; an OCI fallback index and the
// manifests it lists) or that the referrers API names, subjects before
// their referrers (level by level, each sorted), so that a failure in
// between never leaves something that stays without its signature.
type followers struct {
	Tags      []Tag
	Referrers []string
}

// followReferrers is the one rule for how far referrers follow what goes,
// for the policy (decide.go) as for explicit deletions (takeAlong): to any
// depth. owner maps each digest that goes to the manifest deletion that
// takes it (the digest itself, its index children). A referrer tag naming
// one of them as its subject ("sha256-<hex>", "sha256-<hex>.sig") follows
// that deletion unless what it points at survives (then it stays, and
// keeps that); what it points at and the manifests that lists, and the
// referrers apiReferrers names by subject, go with the same deletion when
// they do not survive, and are subjects in turn: the signature of the SBOM
// of a deleted image goes with the image, with both fallback indexes. It
// adds what it takes to owner (each digest to the first deletion that
// reaches it) and returns what follows each deletion, and the names of
// the referrer tags that follow one.
func (r Repository) followReferrers(owner map[string]string, survivors map[string]bool, apiReferrers map[string][]string) (map[string]*followers, map[string]bool) {
	tagsOf := map[string][]Tag{} // subject -> its referrer tags
	for _, t := range r.Tags {
		if subject, ok := SubjectOf(t.Name); ok {
			tagsOf[subject] = append(tagsOf[subject], t)
		}
	}
	follow, following := map[string]*followers{}, map[string]bool{}
	of := func(o string) *followers {
		if follow[o] == nil {
			follow[o] = &followers{}
		}
		return follow[o]
	}
	for level := sortedKeys(owner); len(level) > 0; {
		found := map[string][]string{} // deletion -> the referrers found at this level
		var next []string
		take := func(o, d string) {
			if survivors[d] {
				return
			}
			found[o] = appendNew(found[o], d)
			if owner[d] == "" {
				owner[d] = o
				next = append(next, d)
			}
		}
		for _, subject := range level {
			o := owner[subject]
			for _, t := range tagsOf[subject] {
				if survivors[t.Digest] || following[t.Name] {
					continue
				}
				following[t.Name] = true
				of(o).Tags = append(of(o).Tags, t)
				take(o, t.Digest)
				for _, child := range r.Children[t.Digest] {
					take(o, child)
				}
			}
			for _, ref := range apiReferrers[subject] {
				take(o, ref)
			}
		}
		for o, refs := range found {
			slices.Sort(refs)
			of(o).Referrers = appendNew(of(o).Referrers, refs...)
		}
		slices.Sort(next)
		level = next
	}
	for _, f := range follow {
		slices.SortFunc(f.Tags, func(a, b Tag) int { return strings.Compare(a.Name, b.Name) })
	}
	return follow, following
}

// dependents returns what deleting digest takes along when survivors are
// what stays: its index children that do not survive, and the referrers
// that follow it (f, from followReferrers; nil for none) other than those.
func (r Repository) dependents(digest string, survivors map[string]bool, f *followers) (children, refs []string) {
	for _, child := range r.Children[digest] {
		if !survivors[child] {
			children = appendNew(children, child)
		}
	}
	if f != nil {
		for _, ref := range f.Referrers {
			if ref != digest && !slices.Contains(children, ref) {
				refs = appendNew(refs, ref)
			}
		}
	}
	return children, refs
}

// Survivors returns every digest that a tag outside removed keeps alive:
// its manifest, the children of an index however deep, and the subjects
// the manifests read name; a referrer tag keeps only what it points at
// and its children, since it follows its subject. What must stay.
func (r Repository) Survivors(removed map[string]bool) map[string]bool {
	var roots, referrerRoots []string
	for _, t := range r.Tags {
		switch {
		case removed[t.Name]:
		case IsReferrerTag(t.Name):
			referrerRoots = append(referrerRoots, t.Digest)
		default:
			roots = append(roots, t.Digest)
		}
	}
	return r.Keep(roots, referrerRoots)
}

// KeptBy reports whether what tag t points at keeps digest alive (a
// referrer tag keeps only its children, not its subject).
func (r Repository) KeptBy(t Tag, digest string) bool {
	if IsReferrerTag(t.Name) {
		return r.Keep(nil, []string{t.Digest})[digest]
	}
	return r.Reach(t.Digest)[digest]
}

// parentsOf maps the tagged manifests other than digest that keep it
// alive (indexes listing it however deep, images naming it as subject) to
// their tags.
func (r Repository) parentsOf(digest string) map[string][]string {
	parents := map[string][]string{}
	for _, t := range r.Tags {
		if _, known := parents[t.Digest]; !known && t.Digest != digest && r.KeptBy(t, digest) {
			parents[t.Digest] = r.TagsOn(t.Digest)
		}
	}
	return parents
}

// TagsOn returns the tags pointing at digest, sorted.
func (r Repository) TagsOn(digest string) []string {
	var tags []string
	for _, t := range r.Tags {
		if t.Digest == digest {
			tags = append(tags, t.Name)
		}
	}
	slices.Sort(tags)
	return tags
}

// FallbackReferrerTags returns the tags that name subject in the referrers
// tag schema: "sha256-<hex>" (the OCI fallback index) and cosign's
// "sha256-<hex>.sig", ".att", ".sbom" and the like; sorted by name.
func (r Repository) FallbackReferrerTags(subject string) []Tag {
	var tags []Tag
	for _, t := range r.Tags {
		if s, ok := SubjectOf(t.Name); ok && s == subject {
			tags = append(tags, t)
		}
	}
	slices.SortFunc(tags, func(a, b Tag) int { return strings.Compare(a.Name, b.Name) })
	return tags
}

// appendNew appends the values list lacks.
func appendNew(list []string, values ...string) []string {
	for _, v := range values {
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}

func setOf(values []string) map[string]bool {
	set := make(map[string]bool, len(values))
	for _, v := range values {
		set[v] = true
	}
	return set
}
