package retention

import (
	"slices"
	"strings"
	"time"
)

// Decide applies policy to one repository at time now and returns the
// pending changes, sorted by digest. It is pure and deterministic.
func Decide(repo Repository, policy Policy, now time.Time) []Decision {
	var rules, referrers []Tag
	for _, t := range repo.Tags {
		if IsReferrerTag(t.Name) {
			referrers = append(referrers, t)
		} else {
			rules = append(rules, t)
		}
	}
	kept := keptTags(rules, policy.Keep, now)
	deleted := map[string]string{} // tag -> reason
	for _, t := range rules {
		if kept[t.Name] {
			continue
		}
		if reason, ok := matchDelete(t, policy.Delete, now); ok {
			deleted[t.Name] = reason
		}
	}
	return decisions(repo, rules, referrers, deleted, policy.DeleteReferrers)
}

// keptTags returns the tags any keep rule keeps.
func keptTags(tags []Tag, rules []KeepRule, now time.Time) map[string]bool {
	kept := map[string]bool{}
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
			ranked := slices.Clone(matching)
			Sort(ranked, orderOf(rule))
			for _, t := range ranked[:min(rule.Newest, len(ranked))] {
				kept[t.Name] = true
			}
		}
		if rule.NewerThan > 0 {
			for _, t := range matching {
				if !t.Created.IsZero() && now.Sub(t.Created) < rule.NewerThan {
					kept[t.Name] = true
				}
			}
		}
	}
	return kept
}

// matchDelete returns the first delete rule whose every condition holds.
func matchDelete(t Tag, rules []DeleteRule, now time.Time) (string, bool) {
	for i, rule := range rules {
		if rule.TagRegex != nil && !rule.TagRegex.MatchString(t.Name) {
			continue
		}
		if rule.OlderThan > 0 && (t.Created.IsZero() || now.Sub(t.Created) <= rule.OlderThan) {
			continue // unknown age never matches an age condition
		}
		return rule.describe(i), true
	}
	return "", false
}

// decisions groups deleted tags by digest: a digest with every tag deleted
// that nothing kept references is deleted by digest (with the index
// children nothing kept references, and with its referrers when asked);
// otherwise only the deleted tags are removed.
func decisions(repo Repository, tags, referrers []Tag, deleted map[string]string, deleteReferrers bool) []Decision {
	byDigest := map[string][]string{}
	for _, t := range tags {
		byDigest[t.Digest] = append(byDigest[t.Digest], t.Name)
	}
	survivors := map[string]bool{}
	survive := func(digest string) {
		survivors[digest] = true
		for _, child := range repo.Children[digest] {
			survivors[child] = true
		}
	}
	for _, t := range tags {
		if _, gone := deleted[t.Name]; !gone {
			survive(t.Digest)
		}
	}
	goneSubjects := map[string]bool{}
	for digest, names := range byDigest {
		if !survivors[digest] && allDeleted(names, deleted) {
			goneSubjects[digest] = true
			for _, child := range repo.Children[digest] {
				if !survivors[child] {
					goneSubjects[child] = true
				}
			}
		}
	}
	// A referrer goes with its subject when asked; otherwise it stays, and
	// so does everything it references.
	goneReferrers := map[string][]Tag{} // subject -> its referrer tags
	for _, r := range referrers {
		if subject := subjectOf(r.Name); deleteReferrers && goneSubjects[subject] {
			goneReferrers[subject] = append(goneReferrers[subject], r)
		} else {
			survive(r.Digest)
		}
	}

	var out []Decision
	for _, digest := range sortedKeys(byDigest) {
		d, ok := decide(repo, digest, byDigest[digest], deleted)
		switch {
		case !ok:
			continue
		case goneSubjects[digest]:
			d.Action = DeleteManifest
			addDependents(&d, repo, survivors, goneReferrers)
		default:
			d.Reason += "; the digest stays: " + keptNote(byDigest[digest], d.Tags)
		}
		out = append(out, d)
	}
	return out
}

// decide is the untag decision for the deleted tags on one digest, if any,
// its reason naming the rules that deleted them.
func decide(repo Repository, digest string, names []string, deleted map[string]string) (Decision, bool) {
	var removed, reasons []string
	for _, name := range names {
		if reason, ok := deleted[name]; ok {
			removed = append(removed, name)
			reasons = appendUnique(reasons, reason)
		}
	}
	if len(removed) == 0 {
		return Decision{}, false
	}
	slices.Sort(removed)
	return Decision{Repository: repo.Name, Digest: digest, Action: Untag, Tags: removed, Reason: strings.Join(reasons, "; ")}, true
}

// addDependents adds to a manifest deletion the index children and the
// referrers (of the digest and of those children) that go with it.
func addDependents(d *Decision, repo Repository, survivors map[string]bool, goneReferrers map[string][]Tag) {
	for _, child := range repo.Children[d.Digest] {
		if !survivors[child] {
			d.Children = appendUnique(d.Children, child)
		}
	}
	for _, subject := range append([]string{d.Digest}, d.Children...) {
		for _, r := range goneReferrers[subject] {
			d.Tags = append(d.Tags, r.Name)
			for _, ref := range append([]string{r.Digest}, repo.Children[r.Digest]...) {
				if !survivors[ref] {
					d.Referrers = appendUnique(d.Referrers, ref)
				}
			}
		}
	}
	slices.Sort(d.Tags)
	slices.Sort(d.Referrers)
}

func allDeleted(names []string, deleted map[string]string) bool {
	for _, n := range names {
		if _, ok := deleted[n]; !ok {
			return false
		}
	}
	return true
}

// subjectOf returns the digest a referrer tag names ("sha256-<hex>.sig"
// names "sha256:<hex>").
func subjectOf(tag string) string {
	name, _, _ := strings.Cut(tag, ".")
	return strings.Replace(name, "-", ":", 1)
}

func keptNote(all, removed []string) string {
	var keep []string
	for _, n := range all {
		if !slices.Contains(removed, n) {
			keep = append(keep, n)
		}
	}
	slices.Sort(keep)
	if len(keep) == 0 {
		return "a kept index or referrer uses it"
	}
	return "kept tag(s) " + strings.Join(keep, ", ") + " point at it"
}

func appendUnique(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
