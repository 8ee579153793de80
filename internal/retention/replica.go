package retention

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// A replica (a mirror per region, an air-gapped copy) follows its
// primary: decisions are made once, on the primary, by digest, and the
// replica removes exactly what they remove where it holds the same thing,
// never more. What a replica holds that the primary's decisions do not
// name (a mirror behind the primary, an image pushed to the replica only)
// stays, and is reported.

// ReplicaPlan is what a replica of a repository deletes to follow its
// primary's decisions.
type ReplicaPlan struct {
	// Manifests are deleted by digest, each with its children and
	// referrers that the primary deletes too.
	Manifests []ManifestPlan
	// Untag maps the tags removed from manifests that stay to their digest.
	Untag map[string]string
	// Kept says, per digest the primary deletes and the replica keeps, why.
	Kept []string
	// Pinned are the digests deployed images name in the repository on the
	// replica: kept, with all they reach, also by the replica's apply.
	Pinned []string
}

// FollowPrimary works out, on this replica repository, what follows the
// primary's decisions for the same repository:
//   - a tag goes only when the primary removes the same tag from the same
//     digest (a referrer tag: when the primary deletes the referrer it
//     points at); a tag on another digest (the mirror is behind) stays;
//   - a manifest goes by digest only when the primary deletes it by digest
//     and nothing that stays on the replica uses it (a tag only the
//     replica has, an index or signature only the replica has);
//   - its children and referrers go only when the primary deletes them too
//     and nothing that stays uses them.
//
// Every tag that stays keeps what it reaches, a referrer tag included (a
// signature only the replica holds keeps its image).
//
// pinned are the digests deployed images name in the repository (keep {
// images }): they stay, with all they reach.
func (r Repository) FollowPrimary(primary []Decision, pinned ...string) ReplicaPlan {
	removedFrom := map[string]string{} // tag -> digest the primary removes it from
	deleted := map[string]bool{}       // digests the primary deletes
	for _, d := range primary {
		if d.Action == DeleteManifest {
			deleted[d.Digest] = true
			for _, x := range append(slices.Clone(d.Children), d.Referrers...) {
				deleted[x] = true
			}
		}
		for _, t := range d.Tags {
			if !IsReferrerTag(t) {
				removedFrom[t] = d.Digest
			}
		}
	}
	// A referrer tag goes with the referrer it points at, and that goes
	// only with its subject: first every referrer tag whose referrer the
	// primary deletes counts as removed, then those whose referrer stays
	// after all are put back, until nothing changes (each put back keeps
	// more, so this ends).
	removed := map[string]bool{}
	for _, t := range r.Tags {
		if from, ok := removedFrom[t.Name]; (ok && from == t.Digest) || (IsReferrerTag(t.Name) && deleted[t.Digest]) {
			removed[t.Name] = true
		}
	}
	held := r.Keep(r.tagged(), nil)
	var plan ReplicaPlan
	var going map[string]bool
	for {
		plan, going = r.followWith(primary, removed, held, pinned)
		putBack := false
		for _, t := range r.Tags {
			if removed[t.Name] && IsReferrerTag(t.Name) && !going[t.Digest] {
				delete(removed, t.Name)
				putBack = true
			}
		}
		if !putBack {
			break
		}
	}
	plan.Untag, plan.Pinned = map[string]string{}, pinned
	for _, t := range r.Tags {
		if removed[t.Name] && !going[t.Digest] {
			plan.Untag[t.Name] = t.Digest
		}
	}
	return plan
}

// followWith deletes, of what the primary deletes by digest, what the
// replica holds and no tag outside removed keeps (a referrer tag also
// keeps the subject its name gives: an attestation only the replica has
// keeps its image).
func (r Repository) followWith(primary []Decision, removed, held map[string]bool, pinned []string) (ReplicaPlan, map[string]bool) {
	roots := slices.Clone(pinned)
	for _, t := range r.Tags {
		if !removed[t.Name] {
			roots = append(roots, r.rootsOf(t)...)
		}
	}
	stays := r.Keep(roots, nil)
	// A referrer whose subject stays on the replica stays with it, also
	// one the primary deletes as an orphan (its subject gone there).
	for _, t := range r.Tags {
		if subject, ok := SubjectOf(t.Name); ok && stays[subject] {
			maps.Copy(stays, r.Keep([]string{t.Digest}, nil))
		}
	}
	for referrer, subject := range r.Subjects {
		if stays[subject] && !stays[referrer] {
			maps.Copy(stays, r.Keep([]string{referrer}, nil))
		}
	}
	var plan ReplicaPlan
	going := map[string]bool{}
	for _, d := range primary {
		if d.Action != DeleteManifest || !held[d.Digest] {
			continue // the replica's own untagged manifest, if any, is left to its garbage collection
		}
		if stays[d.Digest] {
			plan.Kept = append(plan.Kept, fmt.Sprintf("%s: %s", d.Digest, r.whyStays(d.Digest, removed)))
			continue
		}
		m := ManifestPlan{Digest: d.Digest, Tags: r.TagsOn(d.Digest)}
		going[d.Digest] = true
		// The registry removes the tags of every digest deleted: a
		// referrer tag on a child or referrer that goes (it follows its
		// subject) goes with it, and the plan names it. (A child's own
		// tag, which the primary removes too, is its own decision's.)
		for _, c := range d.Children {
			if !stays[c] && !going[c] {
				m.Children, going[c] = append(m.Children, c), true
				m.Tags = append(m.Tags, slices.DeleteFunc(r.TagsOn(c), func(t string) bool { return !IsReferrerTag(t) })...)
			}
		}
		for _, ref := range d.Referrers {
			if !stays[ref] && !going[ref] {
				m.Referrers, going[ref] = append(m.Referrers, ref), true
				m.Tags = append(m.Tags, r.TagsOn(ref)...)
			}
		}
		slices.Sort(m.Tags)
		m.Tags = slices.Compact(m.Tags)
		plan.Manifests = append(plan.Manifests, m)
	}
	return plan, going
}

// rootsOf is what a tag that stays on a replica keeps: its manifest, and
// for a referrer tag the subject its name gives too.
func (r Repository) rootsOf(t Tag) []string {
	if subject, ok := SubjectOf(t.Name); ok {
		return []string{t.Digest, subject}
	}
	return []string{t.Digest}
}

// tagged returns the digests the tags point at.
func (r Repository) tagged() []string {
	digests := make([]string, len(r.Tags))
	for i, t := range r.Tags {
		digests[i] = t.Digest
	}
	return digests
}

// whyStays names what keeps digest on the replica: its tags that the
// primary does not remove, or the tagged manifests that use it.
func (r Repository) whyStays(digest string, removed map[string]bool) string {
	var own, users []string
	for _, t := range r.Tags {
		switch {
		case removed[t.Name]:
		case t.Digest == digest:
			own = append(own, t.Name)
		case r.Keep(r.rootsOf(t), nil)[digest]:
			users = append(users, t.Name)
		}
	}
	switch {
	case len(own) > 0:
		return "kept on the replica: tagged " + strings.Join(own, ", ") + " there, which the primary does not remove"
	case len(users) > 0:
		return "kept on the replica: used by " + strings.Join(users, ", ") + ", which the primary does not remove"
	}
	return "kept on the replica: a signature or attestation of an image the replica keeps"
}
