package retention

// Review 42: settleReferrers ("a referrer tag stays until no more stay",
// reach.go) replaced the two fixpoints of ruleDecisions (decide.go) and
// takeAlong (explicit.go); the commit says no change of behaviour. This
// file keeps the two functions as they were before it (oldRuleDecisions42,
// oldTakeAlong42, copied from f559119^) and compares them with the new
// ones on the fuzz repositories (signatures of signatures, OCI fallback
// index tags "sha256-<hex>" pointing at indexes, referrers on index
// children, delete_referrers false, deployed images) and on hand-written
// tables. No difference found (FuzzReview42SettleReferrers ran 90 s,
// 312,000 inputs): no defect reported here.
//
// Attacks on the replica part of the engine that did not break anything:
//   - FollowPrimary with a referrer tag on a child of a deleted index (the
//     case 67be04c was made for) names the tag under the index.

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func oldEvaluate42(repo Repository, policy Policy, now time.Time) Outcome {
	var rules, referrers []Tag
	for _, t := range repo.Tags {
		if IsReferrerTag(t.Name) {
			referrers = append(referrers, t)
		} else {
			rules = append(rules, t)
		}
	}
	kept, unknownAge := keptTags(rules, policy.Keep, now)
	deployed, pins := deployedTags(repo, rules, policy.Images)
	deleted := map[string]int{} // tag -> index of the delete rule that deletes it
	spared := map[string]int{}  // likewise, for the tags deployed images keep
	var keptUnknownAge []string
	for _, t := range rules {
		if kept[t.Name] {
			continue
		}
		i, ok := matchDelete(t, policy.Delete, now)
		switch {
		case !ok:
		case len(deployed[t.Name]) > 0:
			spared[t.Name] = i
		case unknownAge[t.Name]:
			keptUnknownAge = append(keptUnknownAge, t.Name)
		default:
			deleted[t.Name] = i
		}
	}
	slices.Sort(keptUnknownAge)
	return Outcome{
		Decisions:      oldRuleDecisions42(repo, rules, referrers, deleted, pins, policy),
		Spared:         sparedByDigest(repo.Name, rules, spared, deployed, policy.Delete),
		KeptUnknownAge: keptUnknownAge,
	}
}

func oldRuleDecisions42(repo Repository, tags, referrers []Tag, deleted map[string]int, pins map[string][]string, policy Policy) []Decision {
	pinned := sortedKeys(pins)
	byDigest := map[string][]string{}
	for _, t := range tags {
		byDigest[t.Digest] = append(byDigest[t.Digest], t.Name)
	}
	// A referrer tag stays unless asked to follow its subject and what it
	// points at can go too. What a staying referrer points at stays, which
	// can keep another subject or referrer: add staying referrers until no
	// more stay.
	staying := map[string]bool{}
	var survivors map[string]bool
	var owner map[string]string
	for more := true; more; {
		survivors = survivorsOf(repo, tags, referrers, deleted, pinned, staying)
		owner = owners(repo, byDigest, survivors)
		more = false
		for _, r := range referrers {
			subject := referrerSubject(r.Name)
			_, ruled := byDigest[r.Digest]
			orphan := repo.GoneSubjects[subject] && !ruled // a ruled digest is the rules' to decide
			if !staying[r.Name] && (!policy.DeleteReferrers || (owner[subject] == "" && !orphan) || survivors[r.Digest]) {
				staying[r.Name] = true
				more = true
			}
		}
	}
	goneReferrers := map[string][]Tag{} // deleted digest -> the referrer tags that go with it
	for _, r := range referrers {
		if !staying[r.Name] {
			o := owner[referrerSubject(r.Name)]
			goneReferrers[o] = append(goneReferrers[o], r)
		}
	}

	var out []Decision
	for _, digest := range sortedKeys(byDigest) {
		d, ok := untagDecision(repo, digest, byDigest[digest], deleted, policy.Delete)
		switch {
		case !ok:
			continue
		case owner[digest] == digest:
			d.Action = DeleteManifest
			oldAddDependents42(&d, repo, survivors, goneReferrers[digest])
		default:
			d.Reason += "; the digest stays: " + keptNote(byDigest[digest], d.Tags, pinnedBy(repo, pins, digest))
		}
		out = append(out, d)
	}
	out = append(out, oldOrphanDecisions42(repo, survivors, goneReferrers[""])...)
	slices.SortFunc(out, func(a, b Decision) int { return strings.Compare(a.Digest, b.Digest) })
	return out
}

func (r Repository) oldTakeAlong42(going []string, removed map[string]bool, withReferrers bool, apiReferrers map[string][]string) []ManifestPlan {
	removed = maps.Clone(removed)
	if removed == nil {
		removed = map[string]bool{}
	}
	survivors := r.Survivors(removed)
	followers := make([][]Tag, len(going)) // the referrer tags going with each
	if withReferrers {
		for i, digest := range going {
			children, _ := oldDependents42(r, digest, survivors, nil)
			for _, subject := range append([]string{digest}, children...) {
				for _, t := range r.FallbackReferrerTags(subject) {
					followers[i] = append(followers[i], t)
					removed[t.Name] = true
				}
			}
		}
		// A referrer tag whose manifest something else keeps stays, and
		// what it keeps stays: until no more stays.
		for more := true; more; {
			survivors = r.Survivors(removed)
			more = false
			for i := range followers {
				followers[i] = slices.DeleteFunc(followers[i], func(t Tag) bool {
					if survivors[t.Digest] {
						delete(removed, t.Name)
						more = true
						return true
					}
					return false
				})
			}
		}
	}
	plans := make([]ManifestPlan, len(going))
	taken := map[string]bool{}
	for i, digest := range going {
		p := ManifestPlan{Digest: digest, Tags: r.TagsOn(digest)}
		children, referrers := oldDependents42(r, digest, survivors, followers[i])
		for _, d := range children {
			if !taken[d] {
				taken[d] = true
				p.Children = append(p.Children, d)
			}
		}
		for _, t := range followers[i] {
			p.Tags = appendNew(p.Tags, t.Name)
		}
		for _, subject := range append([]string{digest}, p.Children...) {
			for _, ref := range apiReferrers[subject] {
				if !survivors[ref] && ref != digest {
					referrers = appendNew(referrers, ref)
				}
			}
		}
		for _, d := range referrers {
			if !taken[d] && !slices.Contains(p.Children, d) {
				taken[d] = true
				p.Referrers = append(p.Referrers, d)
			}
		}
		slices.Sort(p.Tags)
		slices.Sort(p.Referrers)
		plans[i] = p
	}
	return plans
}

// The helpers the old functions used, as they were before review 48
// (copied from e947497), which made referrers follow to any depth
// (followReferrers): the old functions followed them one level deep.

func oldOrphanDecisions42(repo Repository, survivors map[string]bool, orphans []Tag) []Decision {
	byReferrer := map[string][]Tag{}
	for _, r := range orphans {
		byReferrer[r.Digest] = append(byReferrer[r.Digest], r)
	}
	var out []Decision
	for _, digest := range sortedKeys(byReferrer) {
		d := Decision{Repository: repo.Name, Digest: digest, Action: DeleteManifest}
		var subjects []string
		for _, r := range byReferrer[digest] {
			d.Tags = append(d.Tags, r.Name)
			subjects = appendNew(subjects, referrerSubject(r.Name))
		}
		d.Children, _ = oldDependents42(repo, digest, survivors, nil)
		slices.Sort(d.Tags)
		slices.Sort(subjects)
		d.Reason = "referrer of " + strings.Join(subjects, ", ") + ", which no longer exists (delete_referrers)"
		out = append(out, d)
	}
	return out
}

func oldAddDependents42(d *Decision, repo Repository, survivors map[string]bool, referrers []Tag) {
	d.Children, d.Referrers = oldDependents42(repo, d.Digest, survivors, referrers)
	for _, r := range referrers {
		d.Tags = append(d.Tags, r.Name)
	}
	slices.Sort(d.Tags)
}

func oldDependents42(r Repository, digest string, survivors map[string]bool, referrers []Tag) (children, refs []string) {
	for _, child := range r.Children[digest] {
		if !survivors[child] {
			children = appendNew(children, child)
		}
	}
	for _, t := range referrers {
		for _, ref := range append([]string{t.Digest}, r.Children[t.Digest]...) {
			if !survivors[ref] && ref != digest && !slices.Contains(children, ref) {
				refs = appendNew(refs, ref)
			}
		}
	}
	slices.Sort(refs)
	return children, refs
}

// compareSettle42 checks old and new on one repository and policy.
func compareSettle42(t *testing.T, in *fuzzInput, repo Repository, policy Policy) {
	t.Helper()
	repo = oneLevel48(repo)
	if got, want := Evaluate(repo, policy, testNow), oldEvaluate42(repo, policy, testNow); !reflect.DeepEqual(got, want) {
		t.Fatalf("Evaluate differs from before settleReferrers\n%s%s\nnew:\n%sold:\n%s", showRepository(repo), showPolicy(policy), showDecisions(got.Decisions), showDecisions(want.Decisions))
	}
	digests := map[string]bool{}
	for _, t := range repo.Tags {
		digests[t.Digest] = true
	}
	for d, cs := range repo.Children {
		digests[d] = true
		for _, c := range cs {
			digests[c] = true
		}
	}
	all := slices.Sorted(maps.Keys(digests))
	if len(all) == 0 {
		return
	}
	for range 3 {
		var going []string
		removed := map[string]bool{}
		for range 1 + in.intn(3) {
			d := pick(in, all)
			going = appendNew(going, d)
			for _, tag := range repo.TagsOn(d) {
				removed[tag] = true
			}
		}
		if in.intn(2) == 0 && len(repo.Tags) > 0 { // a tag removal elsewhere (registry_tag_deletion)
			tag := pick(in, repo.Tags)
			removed[tag.Name] = true
		}
		var api map[string][]string
		if in.intn(2) == 0 {
			api = map[string][]string{pick(in, all): {pick(in, all)}}
		}
		if deepAPI48(repo, api) {
			api = nil
		}
		if signedShared48(repo, going, api) {
			continue
		}
		for _, with := range []bool{true, false} {
			if !with {
				api = nil // the old takeAlong took them without referrers too; only explicit deletions with referrers ask the API
			}
			got := repo.takeAlong(going, removed, with, api)
			want := repo.oldTakeAlong42(going, removed, with, api)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("takeAlong(%v, %v, %v, %v) differs from before settleReferrers\n%s\nnew: %+v\nold: %+v", going, removed, with, api, showRepository(repo), got, want)
			}
		}
	}
}

// referrers48 are the digests that referrer tags point at, with the
// manifests they list, and those api names as referrers.
func referrers48(repo Repository, api map[string][]string) map[string]bool {
	refs := map[string]bool{}
	for _, t := range repo.Tags {
		if IsReferrerTag(t.Name) {
			refs[t.Digest] = true
			for _, child := range repo.Children[t.Digest] {
				refs[child] = true
			}
		}
	}
	for _, rs := range api {
		for _, r := range rs {
			refs[r] = true
		}
	}
	return refs
}

// oneLevel48 is repo without the referrer tags of referrers: review 48
// made them follow what goes (the old functions left them), so old and
// new are compared where referrers are one level deep. Also without the
// referrer tags whose manifest lists their own subject (however deep):
// the old takeAlong started from every other referrer tag staying, so
// such a tag kept its subject and stayed; the new one starts from none
// staying, as the policy always did, and such a tag follows its subject.
func oneLevel48(repo Repository) Repository {
	refs := referrers48(repo, nil)
	lists := Links{Children: repo.Children}
	repo.Tags = slices.DeleteFunc(slices.Clone(repo.Tags), func(t Tag) bool {
		subject, ok := SubjectOf(t.Name)
		return ok && (refs[subject] || lists.Reach(t.Digest)[subject])
	})
	return repo
}

// deepAPI48 reports whether api names referrers of referrers, which the
// old takeAlong left (review 48).
func deepAPI48(repo Repository, api map[string][]string) bool {
	refs := referrers48(repo, api)
	for subject := range api {
		if refs[subject] {
			return true
		}
	}
	for _, t := range repo.Tags {
		if subject, ok := SubjectOf(t.Name); ok && refs[subject] {
			return true
		}
	}
	return false
}

// signedShared48 reports whether two going digests (or one and an index
// listing it) share a subject that a referrer tag or api names: the old
// takeAlong listed its referrer tags under both and its referrers under
// the first, the new one (review 48: one owner per digest, as the policy)
// both under the first that owns the subject.
func signedShared48(repo Repository, going []string, api map[string][]string) bool {
	seen := map[string]bool{}
	for _, d := range going {
		for _, s := range append([]string{d}, repo.Children[d]...) {
			if seen[s] && (len(repo.FallbackReferrerTags(s)) > 0 || len(api[s]) > 0) {
				return true
			}
			seen[s] = true
		}
	}
	return false
}

func FuzzReview42SettleReferrers(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("keep the newest three by semver, delete the rest"))
	f.Add([]byte{1, 1, 4, 2, 2, 0, 0, 4, 10, 20, 0, 30, 5, 0, 1, 0, 0, 1, 2, 1, 1, 1, 1, 2, 0, 3, 1, 1, 5, 1, 0, 0, 4, 2,
		8, 0, 1, 2, 0, 0, 0, 2, 0, 0, 1, 0, 1, 10, 1, 1, 2, 1, 3, 3, 5, 12, 0, 0, 0, 9, 0, 2, 2, 0, 4, 0, 1, 3, 0, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{data: data}
		policy := in.policy()
		repo := in.repository()
		policy.Images = in.images(repo)
		compareSettle42(t, in, repo, policy)
		policy.DeleteReferrers = !policy.DeleteReferrers
		compareSettle42(t, in, repo, policy)
	})
}

// Hand-written: a signature of a signature, an OCI fallback index tag
// "sha256-<hex>" on an index listing two referrers, a referrer on an
// index child, and a signature whose manifest a kept tag also points at.
func TestReview42SettleReferrersTable(t *testing.T) {
	img, idx, child, sig, sigsig, fb, att, sbom, shared := dig(1), dig(2), dig(3), dig(4), dig(5), dig(6), dig(7), dig(8), dig(9)
	ref := referrer
	repo := Repository{Name: "app", Tags: []Tag{
		{Name: "old", Digest: img}, {Name: "multi", Digest: idx}, {Name: "keep", Digest: shared},
		{Name: ref(img, ".sig"), Digest: sig}, {Name: ref(sig, ".sig"), Digest: sigsig},
		{Name: ref(idx, ""), Digest: fb}, {Name: ref(child, ".att"), Digest: att}, {Name: ref(img, ".sbom"), Digest: shared},
	}, Links: Links{Children: map[string][]string{idx: {child}, fb: {att, sbom}}}}
	for _, p := range []Policy{
		{Delete: []DeleteRule{{}}, DeleteReferrers: true},
		{Delete: []DeleteRule{{}}},
		{Keep: []KeepRule{{Tags: []string{"keep"}}}, Delete: []DeleteRule{{}}, DeleteReferrers: true},
		{Keep: []KeepRule{{Tags: []string{"multi"}}}, Delete: []DeleteRule{{}}, DeleteReferrers: true},
	} {
		for seed := range 20 {
			compareSettle42(t, &fuzzInput{data: []byte{byte(seed), byte(seed * 7), byte(seed * 13), byte(seed * 3), 1, 2, 3, 4, 5, 6, 7, 8, 9}}, repo, p)
		}
	}
}
