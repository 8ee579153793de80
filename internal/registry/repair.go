package registry

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// verify compares what the registry serves after a chunk with what the
// apply keeps, and restores from the journal what went missing (see
// execute.go). It also brings the view up to date: new tags resolved (and
// their indexes read), removed tags dropped. After the batch's last chunk
// (last), every tag that stays is resolved again, however many: see
// resolveAgain.
func (c *Client) verify(ctx context.Context, v *view, works []*work, j *journal, last bool) error {
	s := v.snap
	listed, err := c.Tags(ctx, s.Repository)
	if IsNotFound(err) {
		listed, err = nil, nil // every tag went: what stays is checked below
	}
	if err != nil {
		return err
	}
	taken, planned := takenBy(works, s), removedBy(works, s)
	onList := setOf(listed)
	ahead := wentAhead(works, s, j, onList)
	var missing, survived []string // kept tags that went, though no item that ran removed them; tags that stayed, though one did
	for tag := range s.Tags {
		if onList[tag] {
			if taken[tag] {
				survived = append(survived, tag)
			}
			continue
		}
		switch {
		case taken[tag]:
			delete(s.Tags, tag)
		case ahead[tag] && !planned[tag]: // its own item was skipped: it went as planned all the same
			delete(s.Tags, tag)
		case ahead[tag]: // nothing to put back; its own item takes it
		case planned[tag]:
			// A tag the plan removes went before its item ran: removed by
			// someone else, or moved onto a manifest this chunk deleted.
			// Either way it went as reviewed: it is not put back (its own
			// item would only remove it again, and without the right to
			// push that would be a loss of what the plan removes). It
			// went ahead of its item, which still runs as planned.
			j.goneAhead(tag, s.Tags[tag].Digest)
		default:
			missing = append(missing, tag)
		}
	}
	slices.Sort(missing)
	s.changed += len(missing)
	var goneDangling []string // dangling when read, gone now: removed, or pushed again and taken by a DELETE
	for tag := range s.Unresolved {
		if !onList[tag] {
			goneDangling = append(goneDangling, tag)
			delete(s.Unresolved, tag)
		}
	}
	slices.Sort(goneDangling)
	var toResolve []string
	for _, tag := range listed {
		_, known := s.Tags[tag]
		if !known && !s.Unresolved[tag] {
			toResolve = append(toResolve, tag) // new since the view
		}
	}
	for _, tag := range c.resolveAgain(s, works, j, last) {
		if onList[tag] && !slices.Contains(survived, tag) {
			toResolve = append(toResolve, tag)
		}
	}
	dangling, err := c.resolveInto(ctx, s, toResolve)
	if err != nil {
		return err
	}
	if err := c.undoMovedAway(ctx, v, works, j, survived); err != nil {
		return err
	}
	if err := c.restoreNeeded(ctx, v, works, j); err != nil {
		return err
	}
	putBack := len(v.keep)
	var unread error // a missing kept tag whose whereabouts could not be read: the others are still put back, then the apply stops
	for _, tag := range missing {
		unread = cmp.Or(unread, c.restoreTag(ctx, v, j, tag))
	}
	if unread != nil {
		return unread
	}
	if len(goneDangling) > 0 && deletedAny(j) {
		// Not resolved before the chunk (many dangling tags, see
		// fewStaying), such a tag may have been pushed onto what the
		// chunk deleted, which took it along: when in doubt, keep.
		j.note(&j.warnings, fmt.Sprintf("tag(s) %s of %s, listed without a manifest when this apply read them, went during the apply: "+
			"removed, or pushed again onto a manifest this apply deleted, which took them along%s",
			strings.Join(goneDangling, ", "), s.Repository, putBackUntagged(c.restoreSuspects(ctx, v, j, strings.Join(goneDangling, ", ")))))
	}
	// New names pushed onto a digest as it was deleted. A tag dangling
	// since it was first read (or tried) is not tried against every
	// manifest the apply deleted (a PUT and a DELETE each): only against
	// the one the registry says it names (repairOnceDangling).
	// The once-dangling first: repairDangling marks what it put back and
	// no new name needs as not deleted (to delete again), and a
	// once-dangling tag's image among it would then be deleted again, the
	// tag with it (review 58).
	onceDangling := slices.DeleteFunc(slices.Clone(dangling), func(tag string) bool { return !s.Unresolved[tag] })
	if err := c.repairOnceDangling(ctx, v, works, j, onceDangling); err != nil {
		return err
	}
	if err := c.repairDangling(ctx, v, works, j, slices.DeleteFunc(dangling, func(tag string) bool { return s.Unresolved[tag] })); err != nil {
		return err
	}
	if len(v.keep) > putBack { // what came back keeps what it reaches, deleted in earlier chunks too
		return c.restoreNeeded(ctx, v, works, j)
	}
	return nil
}

// wentAhead returns the tags gone from the listing that the plan removes
// from a digest this apply deleted before their own item ran: another
// item took the digest first (a tagged platform image deleted with its
// index). They went as planned, and the journal records it when first
// seen (reported performed even if the apply stops before their item).
// They stay in the view for their own item, which takes them and reports
// them when it runs; skipped after all (the image pushed again under
// another tag since), its tag still went as planned: verify drops it
// from the view instead of putting it back.
func wentAhead(works []*work, s *Snapshot, j *journal, onList map[string]bool) map[string]bool {
	ahead := map[string]bool{}
	for tag := range removedBy(works, s) {
		if d := s.Tags[tag].Digest; !onList[tag] && j.wasDeleted(d) {
			j.goneAhead(tag, d)
		}
	}
	for tag, m := range s.Tags {
		if !onList[tag] && j.wentAheadWith(tag, m.Digest) {
			ahead[tag] = true
		}
	}
	return ahead
}

// deletedAny reports whether the chunk deleted a manifest.
func deletedAny(j *journal) bool {
	return len(j.chunkDeleted()) > 0
}

// resolveAgain returns the tags verify resolves again although the
// listing still names them: a tag that stays may have been moved onto a
// new index or referrer that uses what this apply deletes (an index
// child, an image an attestation names), which no listing shows. After a
// chunk that deleted something, the tags not yet removed when they are few
// (fewStaying); after the last chunk of a batch that deleted anything,
// all of them, a request each: what a kept tag was moved onto during the
// apply, and what that uses, is then put back before the apply reports
// (children deleted by a later chunk than the move included).
func (c *Client) resolveAgain(s *Snapshot, works []*work, j *journal, last bool) []string {
	switch {
	case last && j.deletedInApply():
		return append(staying(s, works), slices.Collect(maps.Keys(s.Unresolved))...)
	case deletedAny(j): // (dangling tags among them when few)
		return c.fewStaying(s, works)
	}
	return nil
}

// undoMovedAway handles the tags a manifest deletion that ran should have
// taken and that are still listed: they point elsewhere now, moved away
// since the view (a planning pass's read, which the apply does not resolve
// again tag by tag, see view.go). A deletion all of whose tags moved away
// deleted an untagged manifest, which the policy at apply time does not
// delete: it is not the plan's any more (retention.Permitted), so what it
// deleted is put back, children first, and the item reported skipped. A
// deletion that still took one of its tags stands.
func (c *Client) undoMovedAway(ctx context.Context, v *view, works []*work, j *journal, survived []string) error {
	if len(survived) == 0 {
		return nil
	}
	s := v.snap
	was := map[string]string{} // tag -> digest the view had it on
	for _, tag := range survived {
		was[tag] = s.Tags[tag].Digest
	}
	dangling, err := c.resolveInto(ctx, s, survived)
	if err != nil {
		return err
	}
	for _, w := range works {
		if w.tag != "" || !w.started || w.skipped || !j.wasDeleted(w.manifest.Digest) {
			continue
		}
		var moved, stayed []string
		stands := false
		for _, tag := range w.manifest.Tags {
			if retention.IsReferrerTag(tag) {
				continue // on a referrer, not on the digest
			}
			now, listed := s.Tags[tag]
			if was[tag] != w.manifest.Digest || !listed || now.Digest == w.manifest.Digest || slices.Contains(dangling, tag) ||
				j.wentAheadWith(tag, w.manifest.Digest) { // taken with the digest ahead, then pushed elsewhere
				stands = true // a tag its DELETE took (or one not the view's on it): the deletion stands
				continue
			}
			moved = append(moved, fmt.Sprintf("%s to %s", tag, now.Digest))
			stayed = append(stayed, tag)
		}
		if stands || len(moved) == 0 {
			for _, tag := range stayed { // the deletion stands, but these tags were not its to take
				j.note(&j.skipped, note{subject: "tag " + s.Repository + ":" + tag, why: "it moved away from " + w.manifest.Digest + " since the plan"}.String())
			}
			continue
		}
		w.skipped = true
		why := "since the plan, " + strings.Join(moved, ", ") + " moved away from it, leaving it untagged: put back"
		taken := slices.DeleteFunc(slices.Concat([]string{w.manifest.Digest}, w.manifest.Children, w.manifest.Referrers),
			func(d string) bool { return !j.wasDeleted(d) })
		links := j.links()
		for _, d := range putBackOrder(taken, j, links) {
			if c.restore(ctx, v, j, d, "", why) {
				c.restoreReferrerTags(ctx, v, j, d, links[d].subject)
			}
		}
		j.note(&j.skipped, note{subject: w.manifest.Digest, why: why, contradicted: true}.String())
	}
	return nil
}

// resolveInto resolves tags and records in s where they point now (and
// the indexes they name); it returns those that resolve to nothing. A tag
// keeps the description s read of its digest, created time included, and
// a snapshot read with created times describes a digest it had not read:
// the policy evaluated again must rank the tags as the read did (a HEAD
// alone would make their ages unknown).
func (c *Client) resolveInto(ctx context.Context, s *Snapshot, tags []string) ([]string, error) {
	read := s.byDigest()
	type resolved struct {
		m          Manifest
		danglingOn string
	}
	found, err := mapParallel(ctx, c.concurrency, tags, func(ctx context.Context, tag string) (resolved, error) {
		var m Manifest
		var on string
		var err error
		if s.Unresolved[tag] { // dangling before: a GET, whose 404 may name its digest (repairOnceDangling)
			m, on, err = c.resolveDangling(ctx, s.Repository, tag)
		} else {
			m, err = c.Resolve(ctx, s.Repository, tag)
		}
		if err == nil {
			m, err = c.describedAs(ctx, s, read, m)
		}
		if IsNotFound(err) {
			return resolved{danglingOn: on}, nil
		}
		return resolved{m: m}, err
	})
	if err != nil {
		return nil, err
	}
	var dangling, indexes []string
	for i, tag := range tags {
		m := found[i].m
		delete(s.danglingOn, tag) // what this resolve says, never an earlier one's
		if m.Digest == "" {
			delete(s.Tags, tag)
			dangling = append(dangling, tag)
			if on := found[i].danglingOn; on != "" {
				if s.danglingOn == nil {
					s.danglingOn = map[string]string{}
				}
				s.danglingOn[tag] = on
			}
			continue
		}
		if s.Tags[tag].Digest != m.Digest {
			s.changed++
		}
		s.Tags[tag] = m
		delete(s.Unresolved, tag) // dangling no more: pushed again
		if m.Subject != "" {
			s.Subjects[m.Digest] = m.Subject
		}
		if m.IsIndex() {
			indexes = append(indexes, m.Digest)
		}
	}
	return dangling, c.readIndexTree(ctx, s, indexes)
}

// describedAs returns the description of m's digest that s read, or,
// when s was read with created times, one read now.
func (c *Client) describedAs(ctx context.Context, s *Snapshot, read map[string]Manifest, m Manifest) (Manifest, error) {
	if known, ok := read[m.Digest]; ok && known.agreesWith(m.MediaType, m.Size) && (!s.withCreated || !known.Created.IsZero()) {
		return known, nil // (one without a created time is read again: a restore may have written it)
	}
	if !s.withCreated {
		return m, nil
	}
	return c.Describe(ctx, s.Repository, m.Digest)
}

// restoreNeeded puts back every manifest this apply deleted that what
// stays needs (a staying tag's manifest, an index child, a subject), with
// the referrers it deleted along with them (a kept image keeps its
// signatures), children before the indexes that list them (a registry
// checks that an index's children exist).
func (c *Client) restoreNeeded(ctx context.Context, v *view, works []*work, j *journal) error {
	removed := removedBy(works, v.snap)
	needed, err := c.neededBack(ctx, v, works, j)
	if err != nil || len(needed) == 0 {
		return err
	}
	links := j.links()
	users := func(d string) string {
		if u := v.usersOf(d, removed, nil); len(u) > 0 {
			return "used by " + strings.Join(u, ", ")
		}
		if s := links[d].subject; s != "" && needed[s] {
			return "a referrer of " + s + ", which comes back"
		}
		if v.stayingTagOn(d, removed) {
			return "a tag that stays points at it"
		}
		return "it goes with " + strings.Join(v.keep, ", ") + ", which this apply put back untagged (a subject, referrer or index child of it)"
	}
	for _, d := range childrenFirst(needed, links) {
		if c.restore(ctx, v, j, d, "", users(d)) {
			c.restoreReferrerTags(ctx, v, j, d, links[d].subject)
		}
	}
	return nil
}

// neededBack returns the manifests this apply deleted that what stays
// needs (a staying tag's manifest, an index child, a subject), with the
// referrers it deleted along with them (a kept image keeps its
// signatures).
func (c *Client) neededBack(ctx context.Context, v *view, works []*work, j *journal) (map[string]bool, error) {
	removed := removedBy(works, v.snap)
	alive, err := c.keptAlive(ctx, v, removed)
	if err != nil {
		return nil, err
	}
	var accepted []string // parents an explicit deletion accepted to break
	for _, w := range works {
		accepted = append(accepted, w.manifest.AcceptBroken...)
	}
	needed := map[string]bool{}
	for d := range alive {
		if j.wasDeleted(d) && (len(accepted) == 0 || v.needs(d, removed, accepted)) {
			needed[d] = true
		}
	}
	// The referrers of what comes back come back too, and so do those
	// deleted as orphans of a subject that is back (tagged again during
	// the apply: the view found it gone).
	links := j.links()
	for added := true; added; {
		added = false
		for d, l := range links {
			follows := needed[l.subject] || alive[l.subject] && v.snap.GoneSubjects[l.subject]
			if !needed[d] && l.subject != "" && follows && j.wasDeleted(d) {
				needed[d], added = true, true
			}
		}
	}
	return needed, nil
}

// needs tells whether a staying tag points at digest, or uses it other than
// through the accepted parents.
func (v *view) needs(digest string, removed map[string]bool, accepted []string) bool {
	return v.stayingTagOn(digest, removed) || len(v.usersOf(digest, removed, accepted)) > 0
}

// stayingTagOn tells whether a tag outside removed points at digest.
func (v *view) stayingTagOn(digest string, removed map[string]bool) bool {
	for tag, m := range v.snap.Tags {
		if !removed[tag] && m.Digest == digest {
			return true
		}
	}
	return false
}

// putBackOrder is the order in which to put digests back: with the index
// children of theirs, however deep, that this apply deleted and has not
// put back, from any chunk, each index after its children (childrenFirst):
// a registry refuses an index whose children are missing (distribution
// checks). links is j.links().
func putBackOrder(digests []string, j *journal, links map[string]links) []string {
	return childrenFirst(withDeletedChildren(digests, j, links), links)
}

// withDeletedChildren returns digests with the index children of theirs,
// however deep, that this apply deleted and has not put back.
func withDeletedChildren(digests []string, j *journal, links map[string]links) map[string]bool {
	set := setOf(digests)
	for next := digests; len(next) > 0; {
		var found []string
		for _, d := range next {
			for _, child := range links[d].children {
				if !set[child] && j.wasDeleted(child) {
					set[child] = true
					found = append(found, child)
				}
			}
		}
		next = found
	}
	return set
}

// childrenFirst orders digests so that each index comes after the
// children of it that are in the set, then by digest.
func childrenFirst(set map[string]bool, links map[string]links) []string {
	var order []string
	placed := map[string]bool{}
	for len(order) < len(set) {
		var ready []string
		for d := range set {
			if !placed[d] && !slices.ContainsFunc(links[d].children, func(ch string) bool { return set[ch] && !placed[ch] && ch != d }) {
				ready = append(ready, d)
			}
		}
		if len(ready) == 0 { // a cycle cannot be: digests name content; guard anyway
			for d := range set {
				if !placed[d] {
					ready = append(ready, d)
				}
			}
		}
		slices.Sort(ready)
		for _, d := range ready {
			placed[d] = true
		}
		order = append(order, ready...)
	}
	return order
}

// restoreReferrerTags puts back the referrer tags ("sha256-<subject>.sig")
// a restored referrer carried when it was deleted.
func (c *Client) restoreReferrerTags(ctx context.Context, v *view, j *journal, digest, subject string) {
	e, _ := j.entry(digest)
	for _, tag := range e.Tags {
		if sub, ok := retention.SubjectOf(tag); ok && (subject == "" || sub == subject) {
			c.restore(ctx, v, j, digest, tag, "the referrer tag of a manifest that comes back")
		}
	}
}

// restoreTag puts back a kept tag that went while the chunk ran: onto the
// digest it pointed at when last read, restoring that first if this apply
// deleted it, and puts back what the chunk deleted, untagged: the tag may
// have been moved onto any of it (restoreSuspects). Also when its own
// image is gone (someone deleted it, an untagged-manifest cleaner, or the
// registry dropped it as the tag moved away, as Gitea does with an image
// no other tag holds): the tag itself stays gone then, but it may have
// gone with the chunk, so what the chunk deleted comes back (when in
// doubt, keep), or is reported lost where it cannot.
func (c *Client) restoreTag(ctx context.Context, v *view, j *journal, tag string) error {
	s := v.snap
	was := s.Tags[tag] // its description, created time included, for the policy evaluated again
	digest := was.Digest
	delete(s.Tags, tag)
	suspects := putBackUntagged(c.restoreSuspects(ctx, v, j, tag))
	switch now, err := c.pushedAgain(ctx, s, j, tag); {
	case err != nil:
		return unreadTag(j, s.Repository, tag, digest, "where it points now (it may have been pushed again since)", err, suspects)
	case now != "":
		j.note(&j.warnings, fmt.Sprintf("tag %s:%s went during the apply and was pushed again onto %s before it could be put back on %s: left as pushed%s",
			s.Repository, tag, now, digest, suspects))
		return nil
	}
	if _, ok := j.entry(digest); !ok {
		// A read that failed is no answer: only the registry's "not
		// found" says the image is gone.
		switch err := c.readIntoJournal(ctx, s, j, digest); {
		case IsNotFound(err):
			j.note(&j.warnings, fmt.Sprintf("tag %s:%s went during the apply with %s, which this apply did not delete: left as it is%s",
				s.Repository, tag, digest, suspects))
			return nil
		case err != nil:
			return unreadTag(j, s.Repository, tag, digest, "the image it pointed at", err, suspects)
		}
	}
	why := "it went while this apply deleted other manifests of " + s.Repository +
		" (moved onto one of them just before its DELETE, or removed by someone else); put back where it pointed when last read" + suspects
	if c.restore(ctx, v, j, digest, tag, why) {
		s.Tags[tag] = was
	}
	return nil
}

// unreadTag notes a missing kept tag that was not put back because what
// its repair needs could not be read (a read that fails is no answer), and
// returns the error that stops the apply: no further chunk deletes while a
// kept tag is unaccounted for (verify puts back the other missing tags
// first).
//
// A kept tag is on no journal entry (the apply journals what it deletes,
// and a kept tag's image is not that), so registry_restore does not bring
// it back (review 57): the note says to point it at its image again.
func unreadTag(j *journal, repo, tag, digest, what string, err error, suspects string) error {
	j.note(&j.lost, fmt.Sprintf("tag %s:%s went during the apply and was not put back on %s: %s could not be read: %v%s. "+
		"If it is still missing, point it at %s again (e.g. crane tag <registry>/%s@%s %s): the journal of this apply "+
		"(apply_id = %q) holds what it deleted, not this tag",
		repo, tag, digest, what, err, suspects, digest, repo, digest, tag, j.run.id))
	return fmt.Errorf("reading %s of the missing kept tag %s:%s: %w", what, repo, tag, err)
}

// pushedAgain returns the manifest tag, missing from verify's listing,
// names now if this apply has not deleted it: pushed again since the
// listing (verify resolves the staying tags before it puts any back, a
// request each, minutes on a large repository behind latency). That push
// stands, recorded in the view (what it names is kept): putting the tag
// back where it was would undo it. A "not found", or a manifest this apply
// deleted (moved onto it in the instant of its DELETE, or an answer from
// the registry's stale cache), is no such push: "" says to put the tag
// back. A read that fails is no answer either way: the error, and the tag
// is left for registry_restore (restoreTag notes a loss).
func (c *Client) pushedAgain(ctx context.Context, s *Snapshot, j *journal, tag string) (string, error) {
	m, err := c.Resolve(ctx, s.Repository, tag)
	switch {
	case IsNotFound(err):
		return "", nil
	case err != nil:
		return "", err
	case j.wasDeleted(m.Digest):
		return "", nil
	}
	dangling, err := c.resolveInto(ctx, s, []string{tag})
	if err != nil || len(dangling) > 0 {
		delete(s.Tags, tag) // (resolveInto may have recorded it before a failed index read)
		return "", err
	}
	return m.Digest, nil
}

// putBackUntagged says what restoreSuspects put back, if anything.
func putBackUntagged(suspects []string) string {
	if len(suspects) == 0 {
		return ""
	}
	return fmt.Sprintf(", and the %d manifest(s) deleted with it put back untagged (%s): if it had been moved, retag it",
		len(suspects), strings.Join(suspects, ", "))
}

// restoreSuspects puts back, untagged, what the chunk deleted when a kept
// tag went during it while its own manifest stayed: the tag may have been
// moved onto any of them since it was last resolved (a large repository's
// tags are not resolved again before each chunk, see fewStaying), and the
// registry API cannot say onto which. When in doubt, keep: none of them
// is lost, and the warning names them.
//
// An index among them comes back with its children that an earlier chunk
// deleted (putBackOrder): the registry refuses it without them.
func (c *Client) restoreSuspects(ctx context.Context, v *view, j *journal, tag string) []string {
	chunk := j.chunkDeleted()
	suspect := fmt.Sprintf("tag %s went as this apply deleted it, and may have been moved onto it", tag)
	child := fmt.Sprintf("an index child, deleted by an earlier chunk, of what comes back as tag %s went (an index needs its children)", tag)
	var back []string
	links := j.links()
	for _, d := range putBackOrder(chunk, j, links) {
		why := suspect
		if !slices.Contains(chunk, d) {
			why = child
		}
		if c.restore(ctx, v, j, d, "", why) {
			back = append(back, d)
			c.restoreReferrerTags(ctx, v, j, d, links[d].subject)
		}
	}
	return back
}

// repairDangling handles tags that appeared during the apply and resolve
// to nothing: pushed onto a manifest as this apply deleted it (the registry
// API's window). No request says what a dangling tag names, so the
// manifests the chunk deleted are put back, children first (an index needs
// its children: those an earlier chunk deleted come back with it,
// putBackOrder), the tags are resolved again, and what they now name stays
// with all it needs and keeps (neededBack: children, subjects, referrers
// and their tags); the rest is deleted again with the next chunk, after
// its last check and before its verification (deleteAgain). A tag still
// dangling tries the manifests earlier chunks deleted the same way (the
// final verification finds a tag left dangling by any chunk). A read that
// fails keeps all that was put back (when in doubt, keep), and a tag still
// dangling after a refused put-back is reported lost. The tags are then
// known as dangling, and not tried again.
func (c *Client) repairDangling(ctx context.Context, v *view, works []*work, j *journal, tags []string) error {
	if len(tags) == 0 {
		return nil
	}
	s := v.snap
	if s.Unresolved == nil {
		s.Unresolved = map[string]bool{}
	}
	for _, tag := range tags {
		s.Unresolved[tag] = true
	}
	chunk := j.chunkDeleted()
	var refused []string
	for round := 0; round < 2 && len(tags) > 0; round++ {
		candidates := chunk
		if round == 1 { // read after the first: what it put back (earlier chunks' children of the chunk's indexes) is not tried twice
			candidates = slices.DeleteFunc(j.allDeleted(), func(d string) bool { return slices.Contains(chunk, d) })
		}
		if len(candidates) == 0 {
			continue
		}
		var err error
		if tags, err = c.tryCandidates(ctx, v, works, j, tags, candidates, &refused); err != nil {
			return err
		}
	}
	for _, tag := range tags {
		if len(refused) > 0 {
			j.note(&j.lost, fmt.Sprintf("tag %s:%s appeared during the apply and resolves to no manifest; it may name one this apply deleted and could not put back: %s",
				s.Repository, tag, strings.Join(refused, "; ")))
			continue
		}
		j.note(&j.warnings, fmt.Sprintf("tag %s:%s appeared during the apply and resolves to no manifest, none of those this apply deleted: left as it is", s.Repository, tag))
	}
	return nil
}

// repairOnceDangling repairs the tags, dangling when first read (or
// tried) and dangling still, that were pushed onto a manifest this apply
// deleted, in the instant of its DELETE (review 50): Docker Distribution
// names, in its 404 for such a tag, the digest the tag points at
// (resolveDangling, when resolveInto resolves it again), and when the
// apply deleted that digest, it is put back as for a new dangling name. A
// tag the registry says nothing of, or that names a digest this apply did
// not delete, is left as it was read.
func (c *Client) repairOnceDangling(ctx context.Context, v *view, works []*work, j *journal, tags []string) error {
	var pushed, candidates []string
	for _, tag := range tags {
		if d := v.snap.danglingOn[tag]; d != "" && j.wasDeleted(d) {
			pushed = append(pushed, tag)
			if !slices.Contains(candidates, d) {
				candidates = append(candidates, d)
			}
		}
	}
	if len(pushed) == 0 {
		return nil
	}
	var refused []string
	still, err := c.tryCandidates(ctx, v, works, j, pushed, candidates, &refused)
	if err != nil {
		return err
	}
	for _, tag := range still {
		if len(refused) > 0 {
			j.note(&j.lost, fmt.Sprintf("tag %s:%s was pushed onto a manifest as this apply deleted it, which could not be put back: %s",
				v.snap.Repository, tag, strings.Join(refused, "; ")))
			continue
		}
		// Put back, and the tag resolves to nothing all the same: removed
		// by someone meanwhile (review 58), as repairDangling says.
		j.note(&j.warnings, fmt.Sprintf("tag %s:%s was pushed onto %s as this apply deleted it; that was put back, and the tag still resolves to no manifest "+
			"(removed since, or moved onto one that is gone): left as it is", v.snap.Repository, tag, v.snap.danglingOn[tag]))
	}
	return nil
}

// danglingDigest finds a digest in a registry's error detail.
var danglingDigest = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// resolveDangling resolves a tag that resolved to no manifest before with
// a GET instead of a HEAD: when it still does, Docker Distribution's 404
// names, in its detail, the digest the tag points at ("unknown manifest
// name=… revision=sha256:…" on 3.x, {"Name":…,"Revision":…} on 2.x), which
// it returns (other registries say nothing: ""), with the "not found".
func (c *Client) resolveDangling(ctx context.Context, repo, tag string) (Manifest, string, error) {
	ref, err := c.reference(repo, tag)
	if err != nil {
		return Manifest{}, "", err
	}
	desc, err := c.puller.Get(ctx, ref)
	if err == nil {
		return Manifest{Digest: desc.Digest.String(), MediaType: string(desc.MediaType), Size: desc.Size}, "", nil
	}
	var on string
	if terr := (*transport.Error)(nil); errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		for _, d := range terr.Errors {
			if d.Code == transport.ManifestUnknownErrorCode && on == "" {
				on = danglingDigest.FindString(fmt.Sprint(d.Detail))
			}
		}
	}
	return Manifest{}, on, c.translate("resolving "+shortRef(ref), repo, needPull, err)
}

// tryCandidates puts back candidates (manifests this apply deleted) for
// the dangling tags (repairDangling), keeps what the tags then need, and
// deletes the rest again. It returns the tags still dangling; refused
// collects the put-backs the registry refused.
func (c *Client) tryCandidates(ctx context.Context, v *view, works []*work, j *journal, tags, candidates []string, refused *[]string) ([]string, error) {
	s := v.snap
	links := j.links()
	var back []string
	for _, d := range putBackOrder(candidates, j, links) {
		e, _ := j.entry(d)
		if err := c.putManifest(ctx, s.Repository, d, e); err != nil {
			*refused = append(*refused, fmt.Sprintf("%s (%v)", d, err))
			continue
		}
		back = append(back, d)
	}
	keepAll := func(why string) {
		for _, d := range back {
			j.unmarkDeleted(d)
			v.keep = append(v.keep, d)
		}
		j.note(&j.warnings, fmt.Sprintf("%s in %q: put back while looking for the manifests of tag(s) %s, and kept: %s",
			strings.Join(back, ", "), s.Repository, strings.Join(tags, ", "), why))
	}
	still, err := c.resolveInto(ctx, s, tags)
	if err != nil {
		keepAll(fmt.Sprintf("reading the tags failed (%v)", err))
		return nil, err
	}
	needed, err := c.neededBack(ctx, v, works, j)
	if err != nil {
		keepAll(fmt.Sprintf("reading what they keep failed (%v)", err))
		return nil, err
	}
	named := map[string][]string{} // digest -> repaired tags on it
	var repaired []string
	for _, tag := range tags {
		if m, ok := s.Tags[tag]; ok {
			named[m.Digest] = append(named[m.Digest], tag)
			repaired = append(repaired, tag)
		}
	}
	for _, d := range back {
		if !needed[d] {
			continue
		}
		j.unmarkDeleted(d)
		v.keep = append(v.keep, d)
		why := "what tag(s) " + strings.Join(repaired, ", ") + ", pushed during the apply, keep"
		if on := named[d]; len(on) > 0 {
			why = "tag(s) " + strings.Join(on, ", ") + " pushed onto it as this apply deleted it"
		}
		j.note(&j.restored, fmt.Sprintf("%s in %q: %s", d, s.Repository, why))
		c.restoreReferrerTags(ctx, v, j, d, links[d].subject)
	}
	for _, d := range slices.Backward(back) { // indexes before their children
		if !needed[d] {
			// Deleted again with the next chunk, after its last check and
			// before its verification, as any planned deletion: a kept
			// tag moved onto it meanwhile keeps it or is put back.
			j.unmarkDeleted(d)
			j.queueDeleteAgain(d)
		}
	}
	return still, nil
}

// queueDeleteAgain records a manifest put back while looking for a
// dangling tag's manifest, for Client.deleteAgain with the next chunk.
func (j *journal) queueDeleteAgain(digest string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.again = append(j.again, digest)
}

// requeueAgain puts back at the head of the queue what deleteAgain took
// and did not delete again, in its order.
func (j *journal) requeueAgain(digests []string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.again = append(slices.Clone(digests), j.again...)
}

// takeAgain returns what queueDeleteAgain recorded, and forgets it.
func (j *journal) takeAgain() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	again := j.again
	j.again = nil
	return again
}

// hasAgain tells whether a manifest waits to be deleted again.
func (j *journal) hasAgain() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.again) > 0
}

// allDeleted lists what this apply deleted in the repository and has not
// put back.
func (j *journal) allDeleted() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Sorted(maps.Keys(j.deleted))
}

// readIntoJournal reads a manifest the apply did not delete into the
// journal, to put a tag back on it.
func (c *Client) readIntoJournal(ctx context.Context, s *Snapshot, j *journal, digest string) error {
	r, err := c.repository(s.Repository)
	if err != nil {
		return err
	}
	desc, err := c.puller.Get(ctx, r.Digest(digest))
	if err != nil {
		return c.translate("reading manifest "+digest, s.Repository, needPull, err)
	}
	j.mu.Lock()
	j.entries[digest] = JournalEntry{Registry: c.url, Repository: s.Repository, Digest: digest, MediaType: string(desc.MediaType), Body: desc.Manifest}
	j.mu.Unlock()
	return nil
}

// restore puts a journaled manifest back by digest (putBack; under tag,
// when given), and notes it, or notes a loss when the registry refuses.
// What it puts back untagged, this apply does not delete again, nor what
// that keeps (view.keep): it came back because something may need it.
// Whether the registry answered that the manifest was there already
// decides only the wording: not counted as put back (pushed again since),
// or, when the credentials may not write it and a tag the view resolved
// points at it, not taken for a loss, with a warning. A refused write is
// a loss otherwise: the answers may come from a stale cache (putBack).
func (c *Client) restore(ctx context.Context, v *view, j *journal, digest, tag, why string) bool {
	s := v.snap
	e, _ := j.entry(digest)
	what := digest + " in " + s.Repository
	if tag != "" {
		what = "tag " + s.Repository + ":" + tag + " on " + digest
	}
	there := false
	var err error
	if tag == "" {
		there, err = c.putBack(ctx, s.Repository, digest, e)
	} else {
		err = c.putManifest(ctx, s.Repository, tag, e)
	}
	switch {
	case err != nil && there && KindOf(err) == KindForbidden && v.stayingTagOn(digest, nil):
		// Credentials that may not push (the plan warned that they
		// cannot put anything back), and a manifest the registry says
		// is there under a tag: most likely pushed again since. Both
		// answers may come from distribution's stale descriptor cache
		// (putBack), so a write refused for any other reason is a loss.
		j.note(&j.warnings, fmt.Sprintf("%s (%s): the registry answers that it is there (pushed again since this apply deleted it, and tagged), "+
			"and these credentials may not write it again (%v): if it is missing, %s", what, why, err, j.restoreAdvice()))
	case err != nil:
		j.note(&j.lost, fmt.Sprintf("%s (%s): putting it back failed: %v", what, why, err))
		return false
	case !there:
		j.note(&j.restored, fmt.Sprintf("%s: %s", what, why))
	}
	j.unmarkDeleted(digest)
	if tag == "" {
		v.keep = append(v.keep, digest)
	} else {
		s.Tags[tag] = Manifest{Digest: digest, MediaType: e.MediaType, Size: int64(len(e.Body))}
	}
	return true
}

// blobsFreedAtOnce asks whether the registry still holds the blobs of an
// image this chunk deleted (decided: an answer was had). Distribution keeps
// them until garbage collection, which is what lets an apply put back what
// the registry API's window took, and registry_restore undo it; registries
// that free them as the manifest goes (Gitea) leave nothing to put back,
// which the user must be told. Asked once per batch: a GET of each blob's
// first byte, of up to freedProbeImages images of the first chunk that
// deleted one (a deleted image may share every blob with a kept one, the
// same build pushed again with another annotation: its blobs stay, and
// the first image alone would answer "kept").
func (c *Client) blobsFreedAtOnce(ctx context.Context, repo string, j *journal) (decided, freed bool) {
	a := &availability{c: c}
	probed := 0
	for _, d := range j.chunkDeleted() {
		e, _ := j.entry(d)
		parts, err := e.Parts()
		if !j.confirmed(d) || err != nil || len(parts.Blobs) == 0 {
			continue
		}
		for _, b := range parts.Blobs {
			held, err := a.blob(ctx, repo, b)
			if err != nil {
				return false, false
			}
			if !held {
				return true, true
			}
		}
		if probed++; probed == freedProbeImages {
			break
		}
	}
	return probed > 0, false
}

// freedProbeImages bounds the images blobsFreedAtOnce reads.
const freedProbeImages = 4

// freesAtOnce is blobsFreedAtOnce's answer, asked until it is decided.
func (c *Client) freesAtOnce(ctx context.Context, v *view, j *journal) bool {
	if !v.blobsChecked {
		v.blobsChecked, v.blobsFreed = c.blobsFreedAtOnce(ctx, v.snap.Repository, j)
	}
	return v.blobsFreed
}

// warnFreedAtOnce says what blobsFreedAtOnce found, once per batch: after
// the first chunk that decided it.
func (c *Client) warnFreedAtOnce(ctx context.Context, v *view, j *journal) {
	if v.blobsWarned {
		return
	}
	if c.freesAtOnce(ctx, v, j) {
		v.blobsWarned = true
		j.note(&j.warnings, fmt.Sprintf("%s frees a deleted manifest's blobs as it deletes it (Gitea does; distribution keeps them until garbage collection): "+
			"what this apply deletes in %q cannot be put back, neither by its verification nor by registry_restore, and a kept tag moved onto "+
			"a planned image during the apply goes with it, reported as lost", c.url, v.snap.Repository))
	}
}

// putBack writes a journaled manifest's bytes again by digest: how the
// apply's repair (restore) and registry_restore (ExecuteRestore) bring a
// manifest back, whatever the registry answers for it. A HEAD (or GET) by
// digest may answer from distribution's blob descriptor cache, which a
// request racing the manifest's DELETE leaves stale (the DELETE clears
// the cache, then deletes the revision link; a pull or PUT in between
// caches the descriptor again): 200 for a manifest whose storage has no
// link, which a restarted registry, another instance over the same
// storage, or garbage collection sees deleted. Only the PUT writes the
// link again. served is whether a HEAD just before answered that the
// registry holds it: it decides only how the caller words the outcome
// (there already, or put back; a refused write of one it answers for),
// never whether the bytes are written. err is the write's: nil only when
// the registry accepted the bytes.
func (c *Client) putBack(ctx context.Context, repo, digest string, e JournalEntry) (served bool, err error) {
	served, _ = c.Exists(ctx, repo, digest) // wording only: it may answer from a stale cache
	return served, c.putManifest(ctx, repo, digest, e)
}

// putManifest PUTs a journaled body under reference (its digest or a tag),
// as it was: one request, nothing else. (ggcr's Pusher.Put also writes the
// referrers tag schema's fallback index, sha256-<subject>, for a manifest
// with a subject on a registry without the referrers API: a tag the
// repository did not have before its deletion.)
func (c *Client) putManifest(ctx context.Context, repo, reference string, e JournalEntry) error {
	r, err := c.repository(repo)
	if err != nil {
		return err
	}
	client, err := c.writer(ctx, r)
	if err == nil {
		u := url.URL{Scheme: r.Scheme(), Host: r.RegistryStr(), Path: fmt.Sprintf("/v2/%s/manifests/%s", r.RepositoryStr(), reference)}
		err = putBody(ctx, client, u, e.MediaType, e.Body)
	}
	return c.translate("putting back manifest "+e.Digest, repo, needPush, err)
}

// putBody PUTs body to u and returns nil or the registry's error.
func putBody(ctx context.Context, client *http.Client, u url.URL, mediaType string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mediaType)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer drain(resp)
	return transport.CheckError(resp, http.StatusCreated, http.StatusOK)
}

func (j *journal) note(list *[]string, msg string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	*list = append(*list, msg)
}

// unmarkDeleted records that digest is back: no longer this apply's
// deletion. Its confirmation goes too: deleted again later (deleteAgain),
// it counts as deleted (countDeleted, performed) only once the registry
// confirms that new DELETE, never on the strength of the first.
func (j *journal) unmarkDeleted(digest string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.deleted, digest)
	delete(j.done, digest)
}

// links maps each manifest this apply deleted (and has not put back) to
// what its journaled body names.
func (j *journal) links() map[string]links {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := map[string]links{}
	for d := range j.deleted {
		if l, err := entryLinks(j.entries[d]); err == nil {
			out[d] = l
		}
	}
	return out
}

// entryLinks is what a journaled body names: an index's children, a
// manifest's subject, or the subject its fallback tag names (cosign's
// referrers name none in their body).
func entryLinks(e JournalEntry) (links, error) {
	l, err := parseLinks(e.Digest, types.MediaType(e.MediaType), e.Body)
	if err != nil {
		return l, err
	}
	for _, tag := range e.Tags {
		if sub, ok := retention.SubjectOf(tag); ok && l.subject == "" {
			l.subject = sub
		}
	}
	return l, nil
}

// tagsByDigest maps each digest to the tags on it, sorted.
func (s *Snapshot) tagsByDigest() map[string][]string {
	by := map[string][]string{}
	for _, tag := range slices.Sorted(maps.Keys(s.Tags)) {
		d := s.Tags[tag].Digest
		by[d] = append(by[d], tag)
	}
	return by
}

// CheckRestorable asks whether the credentials may push to repo, as a
// restore needs: it starts a blob upload there and cancels it at once,
// which stores nothing. Nil means yes.
func (c *Client) CheckRestorable(ctx context.Context, repo string) error {
	r, err := c.repository(repo)
	if err != nil {
		return err
	}
	client, err := c.writer(ctx, r)
	if err != nil {
		return c.translate("checking that a restore could push", repo, needPush, err)
	}
	start := url.URL{Scheme: r.Scheme(), Host: r.RegistryStr(), Path: fmt.Sprintf("/v2/%s/blobs/uploads/", r.RepositoryStr())}
	location, err := send(ctx, client, http.MethodPost, start, http.StatusAccepted)
	if err != nil {
		return c.translate("checking that a restore could push", repo, needPush, err)
	}
	if upload, err := start.Parse(location); err == nil {
		_, _ = send(ctx, client, http.MethodDelete, *upload, http.StatusNoContent, http.StatusOK, http.StatusAccepted)
	}
	return nil
}
