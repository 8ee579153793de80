package retention

import (
	"maps"
	"slices"
	"time"
)

// Permitted returns what an apply may carry out of the planned decisions
// on repo as the apply finds it: only what both the plan and the policy
// evaluated against repo at now delete, and nothing that then stays
// needs. The plan is an upper bound, never a licence. The registry API
// has no conditional delete, so the rule speaks of what each DELETE takes
// in repo: a DELETE by digest removes every tag on that digest, a tag
// removal removes the tag wherever it points. A tag is removed by the plan
// from the digests its decision deletes or untags: one moved since then
// onto another digest is not the plan's to remove. For each planned
// decision:
//   - a manifest deletion goes ahead only when its digest may go: both
//     delete it, and both remove every tag now on it from it; otherwise
//     nothing of the decision is done (a tag pushed or moved onto it
//     keeps it whole);
//   - each child or referrer goes with it under the same condition;
//   - an untag removes the tags that both remove and that still point at
//     the digest the plan saw them on.
//
// Then, until nothing changes, what stays (tags not removed, the children
// of staying referrer tags, what deployed images pin) keeps what it
// reaches: a manifest it reaches cancels its decision, a child or referrer
// it reaches is left out. A decision lists the planned tags its DELETEs
// take; decisions left with nothing are dropped, the others keep the
// plan's order. On an unchanged repository the plan is permitted whole.
func Permitted(planned []Decision, repo Repository, policy Policy, now time.Time) []Decision {
	both := newAgreement(repo, planned, Evaluate(repo, policy, now).Decisions)
	var out []Decision
	for _, p := range planned {
		if d, ok := both.narrowed(p, both.mayGo); ok {
			out = append(out, d)
		}
	}
	_, pins := deployedTags(repo, nil, policy.Images)
	pinned := sortedKeys(pins)
	for {
		survivors := both.survivors(out, pinned)
		var next []Decision
		for _, d := range out {
			if d, ok := both.narrowed(d, func(digest string) bool { return !survivors[digest] }); ok {
				next = append(next, d)
			}
		}
		if slices.EqualFunc(next, out, decisionEqual) {
			return out
		}
		out = next
	}
}

// agreement is what both the plan and the policy at apply time delete in
// repo.
type agreement struct {
	repo          Repository
	plan, atApply deletions
	digestOf      map[string]string   // tag -> digest, in repo
	tagsOn        map[string][]string // digest -> tags, in repo
}

func newAgreement(repo Repository, planned, atApply []Decision) agreement {
	a := agreement{repo: repo, plan: deletionsOf(planned), atApply: deletionsOf(atApply),
		digestOf: map[string]string{}, tagsOn: map[string][]string{}}
	for _, t := range repo.Tags {
		a.digestOf[t.Name] = t.Digest
		a.tagsOn[t.Digest] = append(a.tagsOn[t.Digest], t.Name)
	}
	return a
}

// mayRemove tells whether both remove tag from digest.
func (a agreement) mayRemove(tag, digest string) bool {
	return a.plan.removes(tag, digest) && a.atApply.removes(tag, digest)
}

// mayGo tells whether both delete digest (as a manifest, an index child or
// a referrer) and remove from it every tag on it, which its DELETE takes.
func (a agreement) mayGo(digest string) bool {
	return a.plan.digests[digest] && a.atApply.digests[digest] &&
		!slices.ContainsFunc(a.tagsOn[digest], func(tag string) bool { return !a.mayRemove(tag, digest) })
}

// narrowed is d with only what may go: a manifest deletion whose manifest
// may not go is nothing, and its children and referrers that may not go are
// left out; its tags are the planned ones on what it still deletes. An
// untag keeps the tags both remove that still point at its digest.
func (a agreement) narrowed(d Decision, mayGo func(digest string) bool) (Decision, bool) {
	var going []string
	if d.Action == DeleteManifest {
		if !mayGo(d.Digest) {
			return Decision{}, false
		}
		d.Children = slices.DeleteFunc(slices.Clone(d.Children), func(c string) bool { return !mayGo(c) })
		d.Referrers = slices.DeleteFunc(slices.Clone(d.Referrers), func(r string) bool { return !mayGo(r) })
		going = d.deletes()
	}
	d.Tags = slices.DeleteFunc(slices.Clone(d.Tags), func(tag string) bool {
		digest, ok := a.digestOf[tag]
		if d.Action == DeleteManifest {
			return !ok || !slices.Contains(going, digest)
		}
		return !ok || digest != d.Digest || !a.mayRemove(tag, digest)
	})
	return d, d.Action == DeleteManifest || len(d.Tags) > 0
}

// survivors returns what stays once decisions are carried out: what the
// tags they do not remove keep (Survivors), and what the pinned digests
// keep (Pinned).
func (a agreement) survivors(decisions []Decision, pinned []string) map[string]bool {
	removed := map[string]bool{}
	for _, d := range decisions {
		for _, t := range d.Tags {
			removed[t] = true
		}
	}
	for _, d := range decisions {
		if d.Action == DeleteManifest {
			for _, digest := range d.deletes() {
				for _, t := range a.tagsOn[digest] {
					removed[t] = true // a DELETE by digest takes every tag on it
				}
			}
		}
	}
	survivors := a.repo.Survivors(removed)
	maps.Copy(survivors, a.repo.Pinned(pinned...))
	return survivors
}

// deletions are what decisions delete: digests (manifests, children and
// referrers), and tags with the digests they are removed from (a manifest
// deletion's tags point at what it deletes, an untag's at its digest).
type deletions struct {
	digests map[string]bool
	tags    map[string][]string
}

func deletionsOf(decisions []Decision) deletions {
	del := deletions{digests: map[string]bool{}, tags: map[string][]string{}}
	for _, d := range decisions {
		from := []string{d.Digest}
		if d.Action == DeleteManifest {
			from = d.deletes()
			for _, digest := range from {
				del.digests[digest] = true
			}
		}
		for _, t := range d.Tags {
			del.tags[t] = append(del.tags[t], from...)
		}
	}
	return del
}

// removes tells whether the decisions remove tag from digest.
func (del deletions) removes(tag, digest string) bool { return slices.Contains(del.tags[tag], digest) }

// deletes returns the digests a manifest deletion deletes, in order: the
// manifest, its children, its referrers.
func (d Decision) deletes() []string {
	return append(append([]string{d.Digest}, d.Children...), d.Referrers...)
}

func decisionEqual(a, b Decision) bool {
	return a.Digest == b.Digest && a.Action == b.Action && slices.Equal(a.Tags, b.Tags) &&
		slices.Equal(a.Children, b.Children) && slices.Equal(a.Referrers, b.Referrers)
}
