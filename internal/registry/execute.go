package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// The registry API has no conditional delete: DELETE by digest takes every
// tag on that digest at the moment the registry handles it, whatever the
// client saw before. No check before a DELETE closes that window, and a
// rule tied to how fast a repository can be read makes applies fail on the
// registries people run (thousands of tags, across a network). So the
// apply detects and repairs instead of racing a clock, per repository:
//
//  1. It reads one view (every tag resolved, every tagged index and the
//     bodies that may name a subject) and judges every planned item
//     against it, and against the policy evaluated again (Batch.Policy):
//     what either contradicts is skipped with a note.
//  2. It deletes in chunks of chunkPerSlot items per request slot, the
//     items of a chunk in parallel (a subject before its own children and
//     referrers).
//  3. Before a chunk's DELETEs, the body of every manifest it deletes is
//     in the journal (journal.go): until garbage collection, a deleted
//     manifest is restored exactly by a PUT of those bytes. Then, last,
//     it lists the tags again (one request per thousand), resolves the
//     names it has not seen and, when few, the tags not yet removed, and
//     judges again: a tag pushed or moved onto a planned digest keeps it.
//  4. After each chunk it verifies (repair.go): it lists the tags again,
//     resolves the new ones, and restores from the journal every manifest
//     that what stays needs (a tag moved onto a deleted digest in the
//     moments before its DELETE, an index or referrer pushed over a
//     deleted child or subject), then the tags that went with it. A
//     restore is a warning; a restore that fails is a loss, an error.
//
// No step depends on how long a read takes. The views of repositories
// applied at once share max_concurrency: the client applies at most
// max_concurrency repositories at once, across every resource of the
// provider (for_each policies run in parallel), and the others wait.

// chunkPerSlot is how many items per request slot a chunk holds: enough
// DELETEs in flight to fill max_concurrency, with the listing and
// verification around a chunk a small share of its time.
const chunkPerSlot = 16

// Report is what an apply did, also when it stopped on an error.
type Report struct {
	Skipped   []string // planned items not performed, and why
	Deleted   int      // manifests deleted by digest (restored ones not counted)
	Untagged  int      // tags removed from digests that stay
	Restored  []string // what verification put back, and why
	Lost      []string // what verification found missing and could not put back
	Warnings  []string // what the apply noticed and left: the journal not stored, a tag another client removed
	Finished  []string // repositories whose batch is complete
	Remaining []string // repositories with planned items not performed
	// Performed is, per repository, what the apply deleted and removed:
	// what replicas follow (retention.FollowPrimary).
	Performed map[string]Performed
	// ApplyID names the apply in the journal (registry_restore's
	// apply_id); its replicas journal under it too (Follow).
	ApplyID string
	run     *applyRun
}

// Performed is what an apply did in one repository.
type Performed struct {
	Digests map[string]bool // manifests deleted
	Tags    map[string]bool // tags removed
}

// Follow makes b, a replica's batch, part of this apply: its deletions are
// journaled under the same apply id, so that one registry_restore apply_id
// undoes the apply on every registry, in chunks numbered after this
// apply's, so that a mirror copying the journal between the registries
// does not put one registry's chunk over the other's.
func (r Report) Follow(b Batch) Batch {
	b.run = r.run
	return b
}

// Summary says what was done, for an error message.
func (r Report) Summary() string {
	s := fmt.Sprintf("%d manifest(s) deleted and %d tag(s) removed", r.Deleted, r.Untagged)
	if len(r.Restored) > 0 {
		s += fmt.Sprintf("; %d restored", len(r.Restored))
	}
	if len(r.Lost) > 0 {
		s += fmt.Sprintf("; %d lost (could not be put back)", len(r.Lost))
	}
	if len(r.Finished) > 0 {
		s += "; finished: " + strings.Join(r.Finished, ", ")
	}
	if len(r.Remaining) > 0 {
		s += "; not finished: " + strings.Join(r.Remaining, ", ")
	}
	return s
}

// ExecuteBatches runs the repositories' batches side by side (the client's
// apply slots bound how many run at once, see above).
func (c *Client) ExecuteBatches(ctx context.Context, batches []Batch) (Report, error) {
	outcomes := make([]outcome, len(batches))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.concurrency)
	run := newApplyRun() // one journal id for the whole apply (registry_restore's apply_id)
	for _, b := range batches {
		if b.run != nil { // a replica's, following its primary's apply (Report.Follow)
			run = b.run
		}
	}
	for i, b := range batches {
		b.run = run
		g.Go(func() error {
			var err error
			outcomes[i], err = c.executeBatch(gctx, b, nil)
			return err
		})
	}
	err := g.Wait()
	r := Report{Performed: map[string]Performed{}, ApplyID: run.id, run: run}
	for i, o := range outcomes {
		r.Performed[batches[i].Repository] = o.performed
		r.Skipped = append(r.Skipped, o.skipped...)
		r.Restored = append(r.Restored, o.restored...)
		r.Warnings = append(r.Warnings, o.warnings...)
		r.Lost = append(r.Lost, o.lost...)
		r.Deleted += o.deleted
		r.Untagged += o.untagged
		if o.finished {
			r.Finished = append(r.Finished, batches[i].Repository)
		} else {
			r.Remaining = append(r.Remaining, batches[i].Repository)
		}
	}
	slices.Sort(r.Skipped)
	return r, lostError(outcome{lost: r.Lost}, err)
}

// outcome is what one repository's batch did.
type outcome struct {
	skipped, restored, lost []string
	warnings                []string
	deleted, untagged       int
	finished                bool
	performed               Performed
}

// work is one planned item as it is carried out.
type work struct {
	manifest  ManifestDeletion // a deletion by digest, or
	tag       string           // a tag to remove from tagDigest
	tagDigest string
	steps     []string // digests still to delete: the manifest, its children, its referrers
	started   bool     // the manifest itself is deleted: only its dependents remain
	tagDone   bool     // the tag is removed, or left for good
	removed   []string // the tags it did take: the one it removed, or those on the manifest when it was deleted
	skipped   bool
	warned    bool // moved tags reported
}

// subject names what w deletes, for a note.
func (w *work) subject(repo string) string {
	if w.tag != "" {
		return "tag " + repo + ":" + w.tag
	}
	return w.manifest.Digest
}

func (w *work) done() bool {
	return w.skipped || w.tagDone || (w.tag == "" && len(w.steps) == 0)
}

// removes lists the tags the work removes, as planned.
func (w *work) removes() []string {
	if w.tag != "" {
		return []string{w.tag}
	}
	return w.manifest.Tags
}

func worksOf(b Batch) []*work {
	var works []*work
	for _, m := range b.Manifests {
		// The subject first, then what depends on it: a failure in between
		// leaves referrers without a subject (cleaned by the next plan),
		// never a kept image without its signature.
		steps := append(append([]string{m.Digest}, m.Children...), m.Referrers...)
		works = append(works, &work{manifest: m, steps: steps})
	}
	for _, tag := range sortedTags(b.Untag) {
		works = append(works, &work{tag: tag, tagDigest: b.Untag[tag]})
	}
	return works
}

func sortedTags(m map[string]string) []string {
	tags := make([]string, 0, len(m))
	for t := range m {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	return tags
}

// strictness turns contradicted items into an error (explicit deletions,
// where nothing of a changed deletion is performed) when non-nil.
type strictness func(contradicted []note) error

// executeBatch carries out one repository's batch in chunks (see above).
func (c *Client) executeBatch(ctx context.Context, b Batch, strict strictness) (o outcome, err error) {
	select {
	case c.applying <- struct{}{}:
		defer func() { <-c.applying }()
	case <-ctx.Done():
		return o, ctx.Err()
	}
	repoLock, _ := c.applyingTo.get(b.Repository, func() (*sync.Mutex, error) { return &sync.Mutex{}, nil })
	repoLock.Lock()
	defer repoLock.Unlock()
	works := worksOf(b)
	v, err := c.readView(ctx, b.Repository, b.Policy != nil && b.Policy.NeedsCreated(), plannedDigests(works))
	if err == nil {
		err = c.readIndexTree(ctx, v.snap, b.untaggedRead)
	}
	if err == nil && b.Policy != nil {
		err = c.readPinned(ctx, v.snap, b.Policy.Images) // what deployed images keep, as the plan saw it
		v.pinned = PinnedIn(b.Repository, b.Policy.Images)
	} else if err == nil && len(b.Pinned) > 0 {
		images := make([]retention.Image, len(b.Pinned))
		for i, d := range b.Pinned {
			images[i] = retention.Image{Repository: b.Repository, Digest: d}
		}
		err = c.readPinned(ctx, v.snap, images)
		v.pinned = b.Pinned
	}
	if err != nil {
		return o, err
	}
	v.allowed, v.replica = b.allowanceOf(v.snap), b.Replica
	kept, notes, err := c.judge(ctx, v, works)
	if err != nil {
		return o, err
	}
	if bad := contradicted(notes); strict != nil && len(bad) > 0 {
		return o, strict(bad)
	}
	o.skipped = append(o.skipped, notesText(notes)...)
	j := c.newJournal(b.run)
	defer func() {
		if again := j.takeAgain(); len(again) > 0 {
			j.note(&j.warnings, fmt.Sprintf("%s in %q: put back while looking for a dangling tag's manifest, and not deleted again "+
				"(the apply stopped first, or the registry refused that DELETE): they stay, untagged, until garbage collection with delete_untagged "+
				"or a deletion by digest removes them", strings.Join(again, ", "), b.Repository))
		}
		o.restored, o.lost, o.warnings = append(o.restored, j.restored...), append(o.lost, j.lost...), j.warnings
		o.skipped = append(o.skipped, j.skipped...)
		o.deleted = j.countDeleted(works) // what is gone now: neither restored nor gone before
		o.performed = j.performed(works)
	}()
	// An apply stopped between chunks (interrupted, a read failing before
	// a chunk) still checks every tag that stays before it returns, as
	// its last chunk's verification would have (resolveAgain).
	lastVerified := false
	var stopped error // why the apply stopped, before unverified's wording
	defer func() {
		if lastVerified || !j.deletedInApply() {
			return
		}
		switch verifyErr := c.verify(context.WithoutCancel(ctx), v, works, j, true); {
		case verifyErr != nil:
			err = unverified(j, cmp.Or(stopped, err, verifyErr))
		case stopped != nil:
			err = stopped // checked after all: not "could not check"
		}
	}()
	for {
		pending := slices.DeleteFunc(slices.Clone(works), (*work).done)
		if len(pending) == 0 && !j.hasAgain() {
			o.finished = true
			return o, nil
		}
		size := chunkPerSlot * c.concurrency
		if b.inOrder {
			size = 1
		}
		chunk := pending[:min(len(pending), size)]
		// Bodies first, then the last look before the DELETEs: the tag
		// listing, whose new names are resolved and judged, so that a tag
		// pushed onto a planned digest while the chunk was read keeps it.
		if err := c.record(ctx, v, j, chunk, kept); err != nil {
			return o, err
		}
		// Stopped before the chunk ran (interrupted, a read failed): what
		// was journaled was not deleted (review 59).
		unsent := func(err error) (outcome, error) {
			c.withdrawKept(context.WithoutCancel(ctx), v.snap.Repository, j, journaledSteps(j, chunk))
			return o, err
		}
		if err := c.lastCheck(ctx, v, works, j, chunk); err != nil {
			return unsent(err)
		}
		if v.snap.changed != v.evaluated { // the policy, evaluated again on what changed
			v.allowed, v.evaluated = b.allowanceOf(v.snap), v.snap.changed
		}
		if kept, notes, err = c.judge(ctx, v, works); err != nil {
			return unsent(err)
		}
		if err := c.record(ctx, v, j, chunk, kept); err != nil { // what the last check freed (usually nothing)
			return unsent(err)
		}
		o.skipped = append(o.skipped, notesText(notes)...)
		journaled := journaledSteps(j, chunk)
		runErr := c.runChunk(ctx, v, j, slices.DeleteFunc(chunk, (*work).done), kept, &o)
		c.withdrawKept(context.WithoutCancel(ctx), v.snap.Repository, j, journaled)
		// The registry may have changed in the registry API's window:
		// restore what went missing, and bring the view up to date. Also
		// when the chunk failed or the apply was interrupted: what its
		// DELETEs took along is put back before returning.
		last := runErr != nil || ctx.Err() != nil || !slices.ContainsFunc(works, func(w *work) bool { return !w.done() }) && !j.hasAgain()
		verifyErr := c.verify(context.WithoutCancel(ctx), v, works, j, last)
		lastVerified = last
		if verifyErr == nil {
			c.warnFreedAtOnce(context.WithoutCancel(ctx), v, j)
		}
		for _, w := range works { // what was taken: the tags gone from the registry's listing (not moved away, not put back)
			w.removed = slices.DeleteFunc(w.removed, func(tag string) bool { _, listed := v.snap.Tags[tag]; return listed })
		}
		if err := cmp.Or(runErr, ctx.Err(), verifyErr); err != nil {
			if verifyErr != nil {
				stopped, err = err, unverified(j, err)
			}
			return o, err
		}
	}
}

// unverified explains a verification that could not read the registry
// (the transport retried for retry_max_elapsed): what the chunk deleted is
// in the journal, so a kept tag its DELETEs took along can still be put
// back by hand, until garbage collection runs.
func unverified(j *journal, err error) error {
	if err == nil || !deletedAny(j) {
		return err
	}
	return fmt.Errorf("%w\n\nThe apply could not check what the registry serves after deleting %d manifest(s). "+
		"If a tag you keep went missing (moved onto one of them during the apply): %s; then push the tag again", err, len(j.chunkDeleted()), j.restoreAdvice())
}

// lastCheck lists the repository's tags (one request per thousand) right
// before a chunk's DELETEs. A tag gone from the listing that no item of
// this apply removed was removed by someone else: the view, and so the
// policy evaluated again, sees it gone. The names the view does not know
// are resolved into it, and so are the tags that stay when they are few,
// or all of them when the view is a planning pass's read (view.go): a
// tag pushed or moved onto a planned digest since keeps it. The subjects
// the view found gone are looked at again too (recheckGoneSubjects).
func (c *Client) lastCheck(ctx context.Context, v *view, works []*work, j *journal, chunk []*work) error {
	listed, err := c.Tags(ctx, v.snap.Repository)
	if err != nil {
		return err
	}
	onList, taken, planned := setOf(listed), takenBy(works, v.snap), removedBy(works, v.snap)
	ahead := wentAhead(works, v.snap, j, onList)
	for tag := range v.snap.Tags {
		forItsItem := ahead[tag] && planned[tag] // a tag gone ahead stays for its own item
		if !onList[tag] && !taken[tag] && !forItsItem {
			delete(v.snap.Tags, tag)
			v.snap.changed++
		}
	}
	for tag := range v.snap.Unresolved { // a dangling tag removed before the chunk: not its to take (verify)
		if !onList[tag] {
			delete(v.snap.Unresolved, tag)
		}
	}
	var toResolve []string
	for _, tag := range listed {
		if !v.snap.listed(tag) {
			toResolve = append(toResolve, tag)
		}
	}
	if !v.reused { // a tag gone ahead of its item (wentAhead) is not listed: nothing to resolve
		staying := slices.DeleteFunc(c.fewStaying(v.snap, works), func(tag string) bool { return !onList[tag] })
		if err := c.resolveBefore(ctx, v.snap, append(toResolve, staying...)); err != nil {
			return err
		}
		return c.recheckGoneSubjects(ctx, v.snap, chunk)
	}
	// What a planning pass read may have changed since, other than new
	// names: kept tags moved, dangling tags pushed again, the subjects of
	// referrer tags pushed again.
	v.reused = false
	toResolve = append(toResolve, kept(v.snap, works)...)
	for tag := range v.snap.Unresolved {
		delete(v.snap.Unresolved, tag)
		if !slices.Contains(toResolve, tag) {
			toResolve = append(toResolve, tag)
		}
	}
	if err := c.resolveBefore(ctx, v.snap, toResolve); err != nil {
		return err
	}
	was := v.snap.GoneSubjects
	v.snap.GoneSubjects = nil
	if err := c.findGoneSubjects(ctx, v.snap); err != nil {
		return err
	}
	if !maps.Equal(was, v.snap.GoneSubjects) { // the policy, evaluated again, sees it
		v.snap.changed++
	}
	return nil
}

// recheckGoneSubjects brings the view's gone subjects up to date before a
// chunk's DELETEs. The policy deletes a referrer tag's manifest on its own
// when its subject is gone (an orphan, retention's orphanDecisions), as
// the view found it; but the subject may come back during the apply
// (registry_restore, pushed again), and then the referrer follows it
// again. A gone subject that a tag now reaches (the last check resolved it)
// is back, without a request; those the chunk deletes orphans of are asked
// again, a HEAD each: only those, so a large repository pays nothing per
// tag and chunk. What changed is seen by the policy, evaluated again.
func (c *Client) recheckGoneSubjects(ctx context.Context, s *Snapshot, chunk []*work) error {
	if len(s.GoneSubjects) == 0 {
		return nil
	}
	present := s.referenced(nil)
	for subject := range s.GoneSubjects {
		if present[subject] {
			delete(s.GoneSubjects, subject)
			s.changed++
		}
	}
	deletes := map[string]bool{}
	for _, w := range chunk {
		if w.tag == "" && !w.done() {
			for _, d := range w.steps {
				deletes[d] = true
			}
		}
	}
	var ask []string
	for tag, m := range s.Tags {
		if subject, ok := retention.SubjectOf(tag); ok && s.GoneSubjects[subject] && deletes[m.Digest] && !slices.Contains(ask, subject) {
			ask = append(ask, subject)
		}
	}
	back, err := mapParallel(ctx, c.concurrency, ask, func(ctx context.Context, subject string) (bool, error) {
		_, err := c.Resolve(ctx, s.Repository, subject)
		if IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return err
	}
	for i, subject := range ask {
		if back[i] {
			delete(s.GoneSubjects, subject)
			s.changed++
		}
	}
	return nil
}

// resolveBefore resolves tags into s before a chunk's DELETEs: those that
// resolve to nothing dangle already, not because of the chunk.
func (c *Client) resolveBefore(ctx context.Context, s *Snapshot, tags []string) error {
	dangling, err := c.resolveInto(ctx, s, tags)
	for _, tag := range dangling {
		if s.Unresolved == nil {
			s.Unresolved = map[string]bool{}
		}
		s.Unresolved[tag] = true
	}
	return err
}

// kept returns the tags no planned item removes.
func kept(s *Snapshot, works []*work) []string {
	removed := removedBy(works, s)
	var out []string
	for tag := range s.Tags {
		if !removed[tag] {
			out = append(out, tag)
		}
	}
	return out
}

// fewStaying returns the tags not yet removed (those that stay, and the
// planned ones whose item has not run: either may be moved onto a planned
// digest), when resolving them again costs at most a chunk's requests,
// and likewise the dangling ones (pushed again, they keep), each bounded
// on its own: a few dangling tags do not make a small repository large.
// Beyond the bound, verification puts back a tag taken along by a DELETE,
// and what a chunk deleted when a dangling tag went (see repair.go).
func (c *Client) fewStaying(s *Snapshot, works []*work) []string {
	bound := chunkPerSlot * c.concurrency
	var out []string
	if tags := staying(s, works); len(tags) <= bound {
		out = tags
	}
	if len(s.Unresolved) <= bound {
		out = append(out, slices.Collect(maps.Keys(s.Unresolved))...)
	}
	return out
}

// staying returns the tags no work that ran removed.
func staying(s *Snapshot, works []*work) []string {
	taken := takenBy(works, s)
	var out []string
	for tag := range s.Tags {
		if !taken[tag] {
			out = append(out, tag)
		}
	}
	return out
}

// takenBy returns the tags the works that ran removed (removedBy, for the
// works carried out).
func takenBy(works []*work, s *Snapshot) map[string]bool {
	ran := slices.DeleteFunc(slices.Clone(works), func(w *work) bool { return !w.started && !w.tagDone })
	return removedBy(ran, s)
}

// note is why a planned item was not (entirely) performed.
type note struct {
	subject      string // what was kept
	why          string
	contradicted bool // the item was skipped; otherwise a tag moved away
}

func (n note) String() string { return "kept " + n.subject + ": " + n.why }

func notesText(notes []note) []string {
	text := make([]string, len(notes))
	for i, n := range notes {
		text[i] = n.String()
	}
	return text
}

func contradicted(notes []note) []note {
	var bad []note
	for _, n := range notes {
		if n.contradicted {
			bad = append(bad, n)
		}
	}
	return bad
}

// runChunk carries out a chunk whose bodies are journaled: the items side
// by side, each item's own steps in order (a subject before its children
// and referrers).
func (c *Client) runChunk(ctx context.Context, v *view, j *journal, chunk []*work, kept map[string]bool, o *outcome) error {
	j.startChunk()
	if err := c.deleteAgain(ctx, v, j, kept); err != nil {
		return err
	}
	var mu sync.Mutex
	// A failed item stops the chunk from starting more, but never cancels
	// the DELETEs in flight: a cancelled request may still be carried out
	// by the registry after verification has looked.
	var g errgroup.Group
	var failed atomic.Bool
	gctx := context.WithoutCancel(ctx)
	g.SetLimit(c.concurrency)
	for _, w := range chunk {
		if w.tag == "" && !w.started { // the tags its DELETE takes, as last seen
			w.removed = v.snap.TagsOn(w.manifest.Digest)
		}
	}
	for _, w := range chunk {
		g.Go(func() (err error) {
			defer func() {
				if err != nil {
					failed.Store(true)
				}
			}()
			if failed.Load() || ctx.Err() != nil {
				return cmp.Or(ctx.Err(), errChunkStopped)
			}
			if w.tag != "" {
				removed, skip, err := c.removeTag(gctx, v, w)
				mu.Lock()
				if removed {
					o.untagged++
					w.removed = []string{w.tag}
				}
				if skip != "" {
					o.skipped = append(o.skipped, skip)
				}
				mu.Unlock()
				return err
			}
			for len(w.steps) > 0 {
				digest := w.steps[0]
				switch {
				case !w.started || !kept[digest]:
					if err := c.deleteJournaled(gctx, v.snap.Repository, j, digest); err != nil {
						return err
					}
				default: // a dependent that something kept uses again stays, and the report says so
					j.note(&j.skipped, note{subject: digest, why: "planned to go with " + w.manifest.Digest + ", and used by what stays since the plan (tagged, or listed by a kept index)"}.String())
				}
				w.started = true
				w.steps = w.steps[1:]
			}
			return nil
		})
	}
	return g.Wait()
}

// journaledSteps are the chunk's steps the journal stored: those that
// runChunk does not delete after all are withdrawn after it.
func journaledSteps(j *journal, chunk []*work) []string {
	var out []string
	for _, w := range chunk {
		for _, d := range w.steps {
			if j.journaled(d) && !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// deleteAgain deletes what a dangling tag's repair put back and found no
// tag needing (repairDangling), unless something kept uses it now: a
// deletion of the chunk, verified with it. A DELETE that fails stops it:
// that manifest and those after it stay queued, so that the stopped
// apply's warning names them (executeBatch), and none of them counts as
// deleted (unmarkDeleted dropped their first confirmation).
func (c *Client) deleteAgain(ctx context.Context, v *view, j *journal, kept map[string]bool) error {
	again := j.takeAgain()
	for i, d := range again {
		if kept[d] || slices.Contains(v.keep, d) {
			j.note(&j.skipped, note{subject: d, why: "put back while looking for a dangling tag's manifest, and used again since"}.String())
			continue
		}
		if err := c.deleteJournaled(context.WithoutCancel(ctx), v.snap.Repository, j, d); err != nil {
			j.requeueAgain(again[i:])
			return err
		}
	}
	return nil
}

// errChunkStopped: another item of the chunk failed first.
var errChunkStopped = errors.New("stopped after another deletion failed")

// deleteJournaled deletes a manifest whose body the journal holds; one it
// could not read (gone already) is not sent. It counts as deleted for
// verification from before the request (one that fails may still have
// been carried out; putting back what exists is harmless), and for the
// report once the registry confirmed it.
func (c *Client) deleteJournaled(ctx context.Context, repo string, j *journal, digest string) error {
	if !j.holds(digest) {
		return nil
	}
	j.markDeleted(digest)
	// The transport retries a DELETE whose answer was lost (a reset, a
	// timeout, a 5xx); the retry then finds the manifest gone, deleted by
	// this apply, or is refused in front of the registry.
	switch tries, err := c.deleteTracked(ctx, repo, digest); {
	case IsNotFound(err) && tries.earlierUnknown: // an earlier attempt deleted it, its answer lost
		j.confirm(digest)
	case IsNotFound(err): // someone else was first: not this apply's deletion, withdrawn (review 63)
		j.refused(digest)
	case err != nil && !tries.mayHaveDeleted: // refused at every try, or never sent: not carried out
		j.refused(digest)
		return err
	case err != nil:
		return err
	default:
		j.confirm(digest)
	}
	return nil
}

// removeTag removes a tag the view shows where the plan saw it (judge
// skipped a moved one): on its digest, or for a tag planned dangling,
// still resolving to nothing. The registry removes a tag by name wherever
// it points, so the tag is resolved once more right before: one moved
// since the view stays, with a note.
func (c *Client) removeTag(ctx context.Context, v *view, w *work) (removed bool, skip string, err error) {
	w.tagDone = true
	_, present := v.snap.Tags[w.tag]
	if !present && (w.tagDigest != "" || !v.snap.Unresolved[w.tag]) {
		return false, "", nil
	}
	now, err := c.Resolve(ctx, v.snap.Repository, w.tag)
	switch {
	case IsNotFound(err):
		if w.tagDigest != "" {
			return false, "", nil // gone already
		}
		now = Manifest{} // still dangling
	case err != nil:
		return false, "", err
	}
	if now.Digest != w.tagDigest {
		w.skipped = true
		n := note{subject: "tag " + v.snap.Repository + ":" + w.tag, why: fmt.Sprintf("it moved from %s to %s since the plan", cmp.Or(w.tagDigest, "no manifest"), now.Digest)}
		return false, n.String(), nil
	}
	if err := c.DeleteTag(ctx, v.snap.Repository, w.tag); err != nil {
		return false, "", err
	}
	return true, "", nil
}

// judge checks every pending work against the view and skips those it
// contradicts, until no more are skipped (a skipped item's tags stay, and
// what they keep alive stays too). It returns what the staying tags keep
// alive.
func (c *Client) judge(ctx context.Context, v *view, works []*work) (map[string]bool, []note, error) {
	var notes []note
	for {
		removed := removedBy(works, v.snap)
		kept, err := c.keptAlive(ctx, v, removed)
		if err != nil {
			return nil, nil, err
		}
		changed := false
		onDigest := v.snap.tagsByDigest() // once per pass: judging thousands of items against thousands of tags
		var namedBy map[string][]string   // a replica's own signatures and attestations (contradicts)
		if v.replica {
			namedBy = referrerTagsBySubject(v.snap)
		}
		for _, w := range works {
			if w.done() || w.started {
				continue
			}
			if n, bad := v.contradicts(w, kept, removed, onDigest, namedBy); bad {
				w.skipped, changed = true, true
				notes = append(notes, n)
			} else if !w.warned && w.tag == "" {
				w.warned = true
				for _, tag := range movedTags(v.snap, w.manifest) {
					notes = append(notes, note{subject: "tag " + v.snap.Repository + ":" + tag, why: "it moved away from " + w.manifest.Digest + " since the plan"})
				}
			}
		}
		if !changed {
			return kept, notes, nil
		}
	}
}

// removedBy returns the tags the works not skipped remove: those that, in
// the view, still point at what their work deletes. A planned tag moved
// onto another image since the plan is not removed (its digest deletion no
// longer takes it): it keeps what it points at now alive, even a child or
// referrer another work planned to delete.
func removedBy(works []*work, s *Snapshot) map[string]bool {
	removed := map[string]bool{}
	for _, w := range works {
		if w.skipped {
			continue
		}
		for _, t := range w.removes() {
			if m, ok := s.Tags[t]; ok && w.takes(t, m.Digest) {
				removed[t] = true
			}
		}
	}
	return removed
}

// takes tells whether carrying out w removes tag, now pointing at digest:
// a tag removal while the tag is where the plan saw it; a manifest
// deletion, the tags on its digest and the referrer tags on the referrers
// it deletes.
func (w *work) takes(tag, digest string) bool {
	if w.tag != "" {
		return digest == w.tagDigest
	}
	if digest == w.manifest.Digest {
		return true
	}
	// A referrer tag goes with the referrer it points at, when the work
	// deletes that referrer (as a referrer, or among the manifests a tag
	// deletion left untagged).
	return retention.IsReferrerTag(tag) && (slices.Contains(w.manifest.Referrers, digest) || slices.Contains(w.manifest.Children, digest))
}

// keptAlive returns what the tags that stay keep alive, reading the bodies
// of staying manifests that may name a subject (referrer tags follow their
// subject instead of keeping it: their bodies are not needed).
func (c *Client) keptAlive(ctx context.Context, v *view, removed map[string]bool) (map[string]bool, error) {
	if _, err := c.readSubjects(ctx, v.snap, removed); err != nil {
		return nil, err
	}
	v.keptBack = v.reachOfKept()
	for {
		kept := v.snap.referenced(removed)
		for d := range v.snap.links().Pinned(v.pinned...) {
			kept[d] = true
		}
		maps.Copy(kept, v.keptBack)
		// A referrer tag ("sha256-<subject>.sig") follows its subject: one
		// planned to go with a subject that stays now (tagged since the
		// plan, a step of a skipped item) stays too, with what it keeps
		// (the signature of a kept signature), and removed says so.
		staying := false
		for tag := range removed {
			if subject, ok := retention.SubjectOf(tag); ok && kept[subject] {
				delete(removed, tag)
				staying = true
			}
		}
		if !staying {
			return kept, nil
		}
	}
}

// readSubjects reads the bodies of the manifests that tags outside removed
// point at and that may name a subject, and those of the subjects they
// name, however deep (a kept signature of an SBOM keeps the SBOM, which
// keeps its image), so that s knows what they keep; it returns how many
// bodies it read that named a subject s did not know.
func (c *Client) readSubjects(ctx context.Context, s *Snapshot, removed map[string]bool) (int, error) {
	var staying []string
	for tag, m := range s.Tags {
		if !removed[tag] && !retention.IsReferrerTag(tag) && mayNameSubject(m) && !slices.Contains(staying, m.Digest) {
			staying = append(staying, m.Digest)
		}
	}
	named := 0
	for len(staying) > 0 {
		found, err := c.readLinks(ctx, s, staying)
		if err != nil {
			return named, err
		}
		staying = nil
		for _, l := range found {
			if l.subject != "" {
				named++
				staying = append(staying, l.subject)
			}
		}
	}
	return named, nil
}

// mayNameSubject: only OCI manifests carry a subject; Docker schema2 and
// schema1 manifests cannot, so their bodies need not be read.
func mayNameSubject(m Manifest) bool {
	return strings.HasPrefix(m.MediaType, "application/vnd.oci.")
}

// contradicts tells whether the view forbids a work not yet started, and
// why.
func (v *view) contradicts(w *work, kept, removed map[string]bool, onDigest, namedBy map[string][]string) (note, bool) {
	repo := v.snap.Repository
	if !v.allowed.permits(w) {
		return note{subject: w.subject(repo), why: "the policy, evaluated against the registry at apply time, keeps it (the registry changed since the plan); " +
			"the plan is an upper bound, never a licence", contradicted: true}, true
	}
	if w.tag != "" {
		if m, ok := v.snap.Tags[w.tag]; ok && m.Digest != w.tagDigest {
			from := w.tagDigest
			if from == "" {
				from = "no manifest"
			}
			return note{subject: "tag " + repo + ":" + w.tag, why: fmt.Sprintf("it moved from %s to %s since the plan", from, m.Digest), contradicted: true}, true
		}
		return note{}, false
	}
	d := w.manifest
	changed := func(format string, args ...any) (note, bool) {
		return note{subject: d.Digest, why: fmt.Sprintf(format, args...), contradicted: true}, true
	}
	if m, ok := v.snap.Tags[d.ViaTag]; ok && m.Digest != d.Digest {
		return changed("since the plan, tag %q in %q moved from %s to %s; run plan again to review the new image", d.ViaTag, repo, d.Digest, m.Digest)
	}
	if extra := missingFrom(d.Tags, onDigest[d.Digest]); len(extra) > 0 {
		return changed("since the plan, %s now point(s) at %s in %q, and deleting the digest would remove them too; run plan again to review",
			strings.Join(extra, ", "), d.Digest, repo)
	}
	if v.replica { // on a replica, its own signatures and attestations keep what they name: the manifest or what it takes along
		for _, taken := range slices.Concat([]string{d.Digest}, d.Children, d.Referrers) {
			for _, tag := range namedBy[taken] {
				if !removed[tag] {
					return changed("since the plan, %s names %s on this replica, which keeps it", "tag "+tag, taken)
				}
			}
		}
	}
	if v.keptBack[d.Digest] {
		return changed("this apply put it back, or what it belongs with (see the warnings): it is not deleted again")
	}
	if kept[d.Digest] {
		if users := v.usersOf(d.Digest, removed, d.AcceptBroken); len(users) > 0 {
			return changed("since the plan, %s in %q use(s) it (as an index child or a referrer's subject), and deleting it would break them; run plan again to review",
				strings.Join(users, ", "), repo)
		}
		// Its own tags that stay: referrer tags ("sha256-<subject>.sig"),
		// which follow their subject, kept now (tagged again since the
		// plan, or used by what stays): the manifest is a kept image's
		// signature or attestation.
		if own := slices.DeleteFunc(slices.Clone(onDigest[d.Digest]), func(tag string) bool { return removed[tag] }); len(own) > 0 {
			var subjects []string
			for _, tag := range own {
				if subject, ok := retention.SubjectOf(tag); ok && !slices.Contains(subjects, subject) {
					subjects = append(subjects, subject)
				}
			}
			return changed("since the plan, what it signs or attests (%s) is kept again in %q (tagged again, or used by what stays), and its tag %s follows it; run plan again to review",
				strings.Join(subjects, ", "), repo, strings.Join(own, ", "))
		}
		// Kept otherwise (a deployed image reaches it): never deleted,
		// unless only through the indexes the user accepted breaking.
		if len(d.AcceptBroken) == 0 || v.snap.links().Pinned(v.pinned...)[d.Digest] {
			return changed("what stays in %q keeps it (a deployed image in keep { images }, or what it belongs with); run plan again to review", repo)
		}
	}
	return note{}, false
}

// usersOf names the staying tags whose manifests keep digest alive, other
// than through the accepted parents (an explicit deletion may accept
// breaking the indexes its plan named).
func (v *view) usersOf(digest string, removed map[string]bool, accepted []string) []string {
	var users []string
	repo := v.snap.engineRepository() // its tags sorted by name
	for _, t := range repo.Tags {
		if !removed[t.Name] && !slices.Contains(accepted, t.Digest) && t.Digest != digest && repo.KeptBy(t, digest) {
			users = append(users, "tag "+t.Name)
		}
	}
	return users
}

// movedTags returns the planned tags of a manifest deletion that now point
// at another image. They are not deleted: deleting the digest no longer
// touches them. (Referrer tags point at their referrers, not at the digest.)
func movedTags(fresh *Snapshot, m ManifestDeletion) []string {
	var moved []string
	for _, tag := range m.Tags {
		if cur, ok := fresh.Tags[tag]; ok && cur.Digest != m.Digest && !retention.IsReferrerTag(tag) {
			moved = append(moved, tag)
		}
	}
	return moved
}

// referrerTagsBySubject maps each subject to the referrer tags naming it
// (sha256-<hex>.sig and the like), sorted.
func referrerTagsBySubject(s *Snapshot) map[string][]string {
	by := map[string][]string{}
	for tag := range s.Tags {
		if subject, ok := retention.SubjectOf(tag); ok {
			by[subject] = append(by[subject], tag)
		}
	}
	for _, tags := range by {
		slices.Sort(tags)
	}
	return by
}
