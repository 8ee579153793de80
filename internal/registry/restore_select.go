package registry

import (
	"fmt"
	"slices"
	"strings"
)

// Which journaled deletions a restore puts back: what the user names, and
// what that needs to be whole again. Pure: the journal is read before
// (journal_read.go), the registry asked after (restore.go).

// RestoreSelection names deleted manifests to restore from the journal:
// exactly one of Tags (with Repository), Digests or ApplyID.
//
// Whatever the selection, a tag goes back to one image in a repository:
// of the images a restore puts back that carried it, the newest deletion
// (newestWithTag, the rule Tags selects by). The others are planned
// without it (RestoreImage.TagsToNewer says where it goes instead).
type RestoreSelection struct {
	Repository string   // required with Tags; narrows Digests and ApplyID to one repository
	Tags       []string // for each, the newest deletion of a manifest that carried it; only those tags come back
	Digests    []string // for each, its newest deletion (in each repository), with every tag it had (but a tag a newer one restored had too)
	ApplyID    string   // every manifest one apply deleted, with every tag it had (but a tag a newer one restored had too)
	// OverwriteMovedTags points a tag that now names another image back at
	// the restored one; without it such a tag is left where it is.
	OverwriteMovedTags bool
}

func (s RestoreSelection) filter() JournalFilter {
	return JournalFilter{ApplyID: s.ApplyID, Repository: s.Repository}
}

// target is a journaled manifest a restore puts back, with the tags it
// puts back on it.
type target struct {
	JournalRecord
	tags []string
	// toNewer are the tags it had that go back to a newer deletion the
	// restore puts back too (oneImagePerTag): tag -> that image's digest.
	toNewer  map[string]string
	why      string // "" for what the selection names, else what needs it
	parts    Parts
	selected bool
}

type journalKey struct{ repo, digest, apply string }

// journalIndex finds journaled manifests by repository and digest.
type journalIndex map[journalKey]JournalRecord

// indexJournal indexes records (oldest first) by repository, digest and
// apply, and under apply "" the newest deletion of each digest.
func indexJournal(records []JournalRecord) journalIndex {
	x := journalIndex{}
	for _, r := range records {
		for _, apply := range []string{r.ApplyID, ""} {
			key := journalKey{r.Repository, r.Digest, apply}
			if old, ok := x[key]; !ok || !r.At.Before(old.At) {
				x[key] = r
			}
		}
	}
	return x
}

// find prefers the deletion by apply, then the newest.
func (x journalIndex) find(repo, digest, apply string) (JournalRecord, bool) {
	if r, ok := x[journalKey{repo, digest, apply}]; ok {
		return r, true
	}
	r, ok := x[journalKey{repo, digest, ""}]
	return r, ok
}

// selectTargets picks what sel names among records, then adds what each
// needs to be whole again (dependencies).
func selectTargets(records []JournalRecord, sel RestoreSelection) ([]*target, error) {
	x := indexJournal(records)
	chosen := map[journalKey]*target{}
	var order []journalKey
	add := func(r JournalRecord, tags []string, why string) error {
		key := journalKey{r.Repository, r.Digest, ""}
		t, ok := chosen[key]
		if !ok {
			parts, err := r.Parts()
			if err != nil {
				return err
			}
			t = &target{JournalRecord: r, why: why, parts: parts}
			chosen[key] = t
			order = append(order, key)
		}
		t.selected = t.selected || why == ""
		for _, tag := range tags {
			if !slices.Contains(t.tags, tag) {
				t.tags = append(t.tags, tag)
			}
		}
		return nil
	}
	var unknown []string
	switch {
	case len(sel.Tags) > 0:
		for _, tag := range sel.Tags {
			r, ok := newestWithTag(records, sel.Repository, tag)
			if !ok {
				unknown = append(unknown, tag)
				continue
			}
			if err := add(r, []string{tag}, ""); err != nil {
				return nil, err
			}
		}
	case len(sel.Digests) > 0:
		for _, digest := range sel.Digests {
			found := false
			for key, r := range x {
				if key.apply == "" && key.digest == digest {
					found = true
					if err := add(r, r.Tags, ""); err != nil {
						return nil, err
					}
				}
			}
			if !found {
				unknown = append(unknown, digest)
			}
		}
	default:
		for key, r := range x { // that apply's deletion of each digest, even one deleted again since
			if key.apply == sel.ApplyID {
				if err := add(r, r.Tags, ""); err != nil {
					return nil, err
				}
			}
		}
		if len(chosen) == 0 {
			unknown = append(unknown, "apply "+sel.ApplyID)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("the journal holds no deletion of %s%s: the data source registry_journal lists what applies deleted "+
			"(a deletion is journaled in the registry, in %s, when the apply could push there)",
			strings.Join(unknown, ", "), inRepository(sel.Repository), JournalRepository)
	}
	if err := addDependencies(records, x, chosen, &order, add); err != nil {
		return nil, err
	}
	targets := make([]*target, len(order))
	for i, key := range order {
		targets[i] = chosen[key]
	}
	oneImagePerTag(targets)
	slices.SortStableFunc(targets, func(a, b *target) int { return strings.Compare(a.Repository, b.Repository) })
	return targets, nil
}

func inRepository(repo string) string {
	if repo == "" {
		return ""
	}
	return fmt.Sprintf(" in %q", repo)
}

// newestWithTag is the newest deletion in repo of a manifest that carried
// tag: the one image a restore gives tag back to, whatever selects it (a
// tag names one image). Two deletions at the same time (never of one tag
// in practice) are ordered by apply, then digest, so that every plan
// agrees.
func newestWithTag(records []JournalRecord, repo, tag string) (JournalRecord, bool) {
	var found JournalRecord
	ok := false
	for _, r := range records {
		if r.Repository == repo && slices.Contains(r.Tags, tag) && (!ok || newerDeletion(r, found)) {
			found, ok = r, true
		}
	}
	return found, ok
}

func newerDeletion(a, b JournalRecord) bool {
	switch {
	case !a.At.Equal(b.At):
		return a.At.After(b.At)
	case a.ApplyID != b.ApplyID:
		return a.ApplyID > b.ApplyID
	}
	return a.Digest > b.Digest
}

// oneImagePerTag leaves each tag to one of the targets that would get it
// back in a repository, by the rule the Tags selection chose by
// (newestWithTag): Digests, ApplyID and the referrers that come along
// give each image every tag it had, and two images deleted at different
// times may both have had latest. The others are planned without it, and
// told which image gets it (toNewer).
func oneImagePerTag(targets []*target) {
	type repoTag struct{ repo, tag string }
	claims := map[repoTag][]JournalRecord{}
	for _, t := range targets {
		claim := t.JournalRecord
		claim.Tags = t.tags // what it would get back (add may have merged another deletion's tags)
		for _, tag := range t.tags {
			claims[repoTag{t.Repository, tag}] = append(claims[repoTag{t.Repository, tag}], claim)
		}
	}
	for _, t := range targets {
		var kept []string
		for _, tag := range t.tags {
			newest, _ := newestWithTag(claims[repoTag{t.Repository, tag}], t.Repository, tag)
			if newest.Digest == t.Digest {
				kept = append(kept, tag)
				continue
			}
			if t.toNewer == nil {
				t.toNewer = map[string]string{}
			}
			t.toNewer[tag] = newest.Digest
		}
		t.tags = kept
	}
}

// addDependencies adds, until nothing more comes, what the chosen need to
// be whole: an index's children the journal holds, and the referrers
// (signatures, SBOMs) the same apply deleted with a chosen manifest, with
// their tags. A dependency the registry still serves is dropped later.
func addDependencies(records []JournalRecord, x journalIndex, chosen map[journalKey]*target, order *[]journalKey,
	add func(JournalRecord, []string, string) error) error {
	referrers := map[journalKey][]JournalRecord{} // by repository, subject and apply
	for _, r := range records {
		if parts, err := r.Parts(); err == nil && parts.Subject != "" {
			key := journalKey{r.Repository, parts.Subject, r.ApplyID}
			referrers[key] = append(referrers[key], r)
		}
	}
	for done := 0; done < len(*order); done++ {
		t := chosen[(*order)[done]]
		for _, child := range t.parts.Children {
			if r, ok := x.find(t.Repository, child.Digest, t.ApplyID); ok {
				if err := add(r, nil, "a child of "+t.Digest); err != nil {
					return err
				}
			}
		}
		for _, r := range referrers[journalKey{t.Repository, t.Digest, t.ApplyID}] {
			if err := add(r, r.Tags, "a referrer of "+t.Digest); err != nil {
				return err
			}
		}
	}
	return nil
}
