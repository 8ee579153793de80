package retention

import (
	"slices"
	"strings"
	"time"
)

// Outcome is what a policy does to one repository: the pending changes,
// sorted by digest, the tags that a delete rule matches but a deployed
// image keeps, and those kept because their age is unknown.
type Outcome struct {
	Decisions []Decision
	Spared    []Spared
	// KeptUnknownAge are the tags, sorted, that a delete rule matches and
	// that only a keep rule's newer_than keeps, because their image's age
	// is unknown: when in doubt, keep (and warn).
	KeptUnknownAge []string
}

// Spared is a digest whose tags a delete rule matches and deployed images
// keep.
type Spared struct {
	Repository string
	Digest     string
	Tags       []string
	// Reason names the deployed images and the delete rules.
	Reason string
}

// Evaluate applies policy to one repository at time now. It is pure and
// deterministic: the order of repo.Tags does not matter.
func Evaluate(repo Repository, policy Policy, now time.Time) Outcome {
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
		Decisions:      ruleDecisions(repo, rules, referrers, deleted, pins, policy),
		Spared:         sparedByDigest(repo.Name, rules, spared, deployed, policy.Delete),
		KeptUnknownAge: keptUnknownAge,
	}
}

// keptTags returns the tags any keep rule keeps, and apart the tags of
// unknown age that a rule with newer_than selects and nothing else keeps:
// those are kept too (no age is no proof of being old), with a warning.
func keptTags(tags []Tag, rules []KeepRule, now time.Time) (kept, unknownAge map[string]bool) {
	kept, unknownAge = map[string]bool{}, map[string]bool{}
	for _, rule := range rules {
		for _, name := range rule.Tags {
			kept[name] = true
		}
		if !rule.selects() {
			continue
		}
		var matching []Tag
		for _, t := range tags {
			if rule.TagRegex == nil || rule.TagRegex.MatchString(t.Name) {
				matching = append(matching, t)
			}
		}
		if rule.Newest == 0 && rule.NewerThan == 0 {
			for _, t := range matching {
				kept[t.Name] = true
			}
			continue
		}
		if rule.Newest > 0 {
			for _, t := range newest(matching, rule.Newest, orderOf(rule)) {
				kept[t.Name] = true
			}
		}
		if rule.NewerThan > 0 {
			for _, t := range matching {
				switch {
				case t.Created.IsZero():
					unknownAge[t.Name] = true
				case now.Sub(t.Created) < rule.NewerThan:
					kept[t.Name] = true
				}
			}
		}
	}
	return kept, unknownAge
}

// newest returns the first n tags by order: the highest versions, the
// newest images, or the greatest names (so that "build-0042" is newer than
// "build-0041", and a date in a name counts). Sort puts names ascending, for
// listing.
func newest(tags []Tag, n int, by Order) []Tag {
	ranked := slices.Clone(tags)
	Sort(ranked, by)
	if by == ByName {
		slices.Reverse(ranked)
	}
	return ranked[:min(n, len(ranked))]
}

// matchDelete returns the index of the first delete rule whose every
// condition holds.
func matchDelete(t Tag, rules []DeleteRule, now time.Time) (int, bool) {
	for i, rule := range rules {
		if rule.TagRegex != nil && !rule.TagRegex.MatchString(t.Name) {
			continue
		}
		if rule.OlderThan > 0 && (t.Created.IsZero() || now.Sub(t.Created) <= rule.OlderThan) {
			continue // unknown age never matches an age condition
		}
		return i, true
	}
	return 0, false
}

// ruleDecisions groups deleted tags by digest: a digest that nothing remaining
// references (no tag left on it, no index or referrer that stays lists it)
// is deleted by digest, with the index children nothing remaining
// references, and with its referrers when asked; otherwise only the deleted
// tags are removed.
func ruleDecisions(repo Repository, tags, referrers []Tag, deleted map[string]int, pins map[string][]string, policy Policy) []Decision {
	pinned := sortedKeys(pins)
	byDigest := map[string][]string{}
	for _, t := range tags {
		byDigest[t.Digest] = append(byDigest[t.Digest], t.Name)
	}
	// A referrer tag stays unless asked to follow its subject, its subject
	// goes (or is gone), and what it points at can go too. Referrers of
	// what goes follow it however deep (followReferrers).
	var owner map[string]string
	var follow map[string]*followers
	staying, survivors := settleReferrers(referrers, func(staying map[string]bool) map[string]bool {
		survivors := survivorsOf(repo, tags, referrers, deleted, pinned, staying)
		owner = owners(repo, byDigest, survivors)
		if policy.DeleteReferrers {
			orphansOwn(repo, owner, survivors, byDigest, referrers)
			follow, _ = repo.followReferrers(owner, survivors, nil)
		}
		return survivors
	}, func(r Tag, survivors map[string]bool) bool {
		subject := referrerSubject(r.Name)
		return !policy.DeleteReferrers || (owner[subject] == "" && !orphan(repo, byDigest, r)) || survivors[r.Digest]
	})
	goneReferrers := map[string][]Tag{} // deleted digest -> the referrer tags that go with it
	for _, r := range referrers {
		if !staying[r.Name] {
			o := owner[referrerSubject(r.Name)]
			if owner[r.Digest] == r.Digest && orphan(repo, byDigest, r) {
				o = "" // an orphan deleted on its own (orphansOwn)
			}
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
			addDependents(&d, repo, survivors, goneReferrers[digest], follow[digest])
		default:
			d.Reason += "; the digest stays: " + keptNote(byDigest[digest], d.Tags, pinnedBy(repo, pins, digest))
		}
		out = append(out, d)
	}
	out = append(out, orphanDecisions(repo, survivors, goneReferrers, follow)...)
	slices.SortFunc(out, func(a, b Decision) int { return strings.Compare(a.Digest, b.Digest) })
	return out
}

// orphan reports whether referrer tag r names a subject that is gone (a
// failure after deleting a subject and before its referrers leaves them),
// and points at no digest that the rules decide.
func orphan(repo Repository, byDigest map[string][]string, r Tag) bool {
	_, ruled := byDigest[r.Digest] // a ruled digest is the rules' to decide
	return repo.GoneSubjects[referrerSubject(r.Name)] && !ruled
}

// orphansOwn makes each referrer whose subject is gone (orphan) a manifest
// deletion of its own in owner, with its index children that nothing
// takes, unless it survives or something that goes takes it already, so
// that its own referrers follow it (followReferrers).
func orphansOwn(repo Repository, owner map[string]string, survivors map[string]bool, byDigest map[string][]string, referrers []Tag) {
	var digests []string
	for _, r := range referrers {
		if orphan(repo, byDigest, r) && owner[referrerSubject(r.Name)] == "" && !survivors[r.Digest] && owner[r.Digest] == "" {
			digests = appendNew(digests, r.Digest)
		}
	}
	slices.Sort(digests)
	for _, digest := range digests {
		owner[digest] = digest
	}
	for _, digest := range digests {
		for _, child := range repo.Children[digest] {
			if !survivors[child] && owner[child] == "" {
				owner[child] = digest
			}
		}
	}
}

// orphanDecisions deletes the referrers whose subject is gone (gone[""]),
// each referrer digest with its fallback tags, the manifests an OCI
// fallback index lists, and what follows it (its own referrers, however
// deep: gone and follow by digest).
func orphanDecisions(repo Repository, survivors map[string]bool, gone map[string][]Tag, follow map[string]*followers) []Decision {
	byReferrer := map[string][]Tag{}
	for _, r := range gone[""] {
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
		addDependents(&d, repo, survivors, gone[digest], follow[digest])
		slices.Sort(subjects)
		d.Reason = "referrer of " + strings.Join(subjects, ", ") + ", which no longer exists (delete_referrers)"
		out = append(out, d)
	}
	return out
}

// survivorsOf returns every digest that a tag not deleted or a staying
// referrer tag references, and what a pinned (deployed) digest keeps
// (Pinned: its children, subject and referrers, however far).
func survivorsOf(repo Repository, tags, referrers []Tag, deleted map[string]int, pinned []string, staying map[string]bool) map[string]bool {
	var roots, referrerRoots []string
	for _, t := range tags {
		if _, gone := deleted[t.Name]; !gone {
			roots = append(roots, t.Digest)
		}
	}
	for _, r := range referrers {
		if staying[r.Name] {
			referrerRoots = append(referrerRoots, r.Digest)
		}
	}
	return repo.Keep(roots, referrerRoots, pinned...)
}

// owners maps every digest that goes to the manifest deletion that takes it
// and its referrers: a tagged digest that does not survive is its own; an
// index child that does not survive goes with the first such index (by
// digest) that lists it.
func owners(repo Repository, byDigest map[string][]string, survivors map[string]bool) map[string]string {
	owner := map[string]string{}
	digests := sortedKeys(byDigest)
	for _, digest := range digests {
		if !survivors[digest] {
			owner[digest] = digest
		}
	}
	for _, digest := range digests {
		if owner[digest] != digest {
			continue
		}
		for _, child := range repo.Children[digest] {
			if !survivors[child] && owner[child] == "" {
				owner[child] = digest
			}
		}
	}
	return owner
}

// untagDecision is the untag decision for the deleted tags on one digest, if any,
// its reason naming the rules that deleted them, in rule order.
func untagDecision(repo Repository, digest string, names []string, deleted map[string]int, rules []DeleteRule) (Decision, bool) {
	var removed []string
	var used []int
	for _, name := range names {
		if i, ok := deleted[name]; ok {
			removed = append(removed, name)
			if !slices.Contains(used, i) {
				used = append(used, i)
			}
		}
	}
	if len(removed) == 0 {
		return Decision{}, false
	}
	slices.Sort(removed)
	return Decision{Repository: repo.Name, Digest: digest, Action: Untag, Tags: removed, Reason: describeRules(rules, used)}, true
}

// describeRules names the delete rules at the indexes used, in rule order.
func describeRules(rules []DeleteRule, used []int) string {
	used = slices.Sorted(slices.Values(used))
	names := make([]string, len(used))
	for j, i := range used {
		names[j] = rules[i].describe(i)
	}
	return strings.Join(names, "; ")
}

// addDependents adds to a manifest deletion the index children that nothing
// remaining references, and the referrer tags that go with it (referrers:
// those of the digest and of the children it owns, and of what follows it,
// however deep) with what follows it (f).
func addDependents(d *Decision, repo Repository, survivors map[string]bool, referrers []Tag, f *followers) {
	d.Children, d.Referrers = repo.dependents(d.Digest, survivors, f)
	for _, r := range referrers {
		d.Tags = append(d.Tags, r.Name)
	}
	slices.Sort(d.Tags)
}

// referrerSubject returns the digest a tag known to be a referrer tag
// names ("sha256-<hex>.sig" names "sha256:<hex>"); SubjectOf is for any tag.
func referrerSubject(tag string) string {
	name, _, _ := strings.Cut(tag, ".")
	return strings.Replace(name, "-", ":", 1)
}

// keptNote says why a digest whose tags are removed stays: the tags left
// on it, or the deployed images that reach it, or else something kept that
// lists or names it.
func keptNote(all, removed, deployedBy []string) string {
	var keep []string
	for _, n := range all {
		if !slices.Contains(removed, n) {
			keep = append(keep, n)
		}
	}
	slices.Sort(keep)
	switch {
	case len(keep) > 0:
		return "kept tag(s) " + strings.Join(keep, ", ") + " point at it"
	case len(deployedBy) > 0:
		return "deployed image(s) " + strings.Join(deployedBy, ", ") + " use it"
	}
	return "a kept index or referrer uses it"
}

// pinnedBy returns the references, sorted, of the deployed images whose
// pinned digest reaches digest (Pinned).
func pinnedBy(repo Repository, pins map[string][]string, digest string) []string {
	var refs []string
	for _, pinned := range sortedKeys(pins) {
		if repo.Pinned(pinned)[digest] {
			refs = appendNew(refs, pins[pinned]...)
		}
	}
	slices.Sort(refs)
	return refs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
