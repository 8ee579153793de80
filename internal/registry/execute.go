package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// The registry API has no conditional delete: DELETE by digest takes every
// tag on that digest at the moment the registry handles it, whatever the
// client saw before. So the apply works in rounds per repository: it reads
// a fresh view (every tag resolved, every tagged index and referrer body
// read), checks each planned item against it, and sends DELETEs one after
// another only while that view is young enough (twice the time it took to
// read, between a quarter second and viewMaxAge), counted from when its
// reading started. A DELETE that is answered late ends the round,
// and the next DELETE waits for a new view. The check is made when the
// request goes on the wire (limitTransport), so time spent waiting for a
// connection slot or between retries counts too. A view that took
// viewMaxAge or longer to read serves no DELETE: after slowViewsMax such
// views in a row the repository's apply stops with an error, where it
// would otherwise re-read the repository for ever.
//
// The views of repositories applied at once share max_concurrency, so
// each takes longer to read the more there are: the client applies at
// most max_concurrency repositories at once, across every resource of the
// provider (for_each policies run in parallel), and the others wait.
//
// Right before each DELETE by digest, the tag list is read again (one
// request per thousand tags): a tag name the view does not know ends the
// round, since a new tag is how a push usually lands on an old digest.
//
// What remains is the registry's own window: an existing tag moved onto a
// planned digest after the view was read, or any tag pushed onto it in
// the moments between that listing and the DELETE (or while the registry
// handles it), goes with it. The docs state this.

// DefaultViewMaxAge is how old a view a DELETE may rely on at most;
// minViewAge is how long a view that was quick to read serves;
// slowViewsMax is how many views in a row may be too old when read for a
// DELETE before the apply gives up on the repository: a registry briefly
// slow (a restart, throttling) gets more views, one never fast enough an
// error.
const (
	DefaultViewMaxAge = 3 * time.Second
	minViewAge        = 250 * time.Millisecond
	slowViewsMax      = 5
)

// Report is what an apply did, also when it stopped on an error.
type Report struct {
	Skipped   []string // planned items not performed, and why
	Deleted   int      // manifests deleted by digest
	Untagged  int      // tags removed from digests that stay
	Finished  []string // repositories whose batch is complete
	Remaining []string // repositories with planned items not performed
}

// Summary says what was done, for an error message.
func (r Report) Summary() string {
	s := fmt.Sprintf("%d manifest(s) deleted and %d tag(s) removed", r.Deleted, r.Untagged)
	if len(r.Finished) > 0 {
		s += "; finished: " + strings.Join(r.Finished, ", ")
	}
	if len(r.Remaining) > 0 {
		s += "; not finished: " + strings.Join(r.Remaining, ", ")
	}
	return s
}

// ExecuteBatches runs the repositories' batches side by side (each
// repository's DELETEs are sequential, and the client's apply slots bound
// how many run at once, see above).
func (c *Client) ExecuteBatches(ctx context.Context, batches []Batch) (Report, error) {
	outcomes := make([]outcome, len(batches))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.concurrency)
	for i, b := range batches {
		g.Go(func() error {
			var err error
			outcomes[i], err = c.executeBatch(gctx, b, nil)
			return err
		})
	}
	err := g.Wait()
	var r Report
	for i, o := range outcomes {
		r.Skipped = append(r.Skipped, o.skipped...)
		r.Deleted += o.deleted
		r.Untagged += o.untagged
		if o.finished {
			r.Finished = append(r.Finished, batches[i].Repository)
		} else {
			r.Remaining = append(r.Remaining, batches[i].Repository)
		}
	}
	slices.Sort(r.Skipped)
	return r, err
}

// outcome is what one repository's batch did.
type outcome struct {
	skipped           []string
	deleted, untagged int
	finished          bool
}

// work is one planned item as it is carried out.
type work struct {
	manifest  ManifestDeletion // a deletion by digest, or
	tag       string           // a tag to remove from tagDigest
	tagDigest string
	steps     []string // digests still to delete: the manifest, its children, its referrers
	started   bool     // the manifest itself is deleted: only its dependents remain
	skipped   bool
	warned    bool // moved tags reported
}

func (w *work) done() bool { return w.skipped || (w.tag == "" && len(w.steps) == 0) }

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

// executeBatch carries out one repository's batch in rounds, each against
// a fresh view.
func (c *Client) executeBatch(ctx context.Context, b Batch, strict strictness) (outcome, error) {
	var o outcome
	select {
	case c.applying <- struct{}{}:
		defer func() { <-c.applying }()
	case <-ctx.Done():
		return o, ctx.Err()
	}
	works := worksOf(b)
	slowViews := 0
	for {
		pending := slices.DeleteFunc(slices.Clone(works), (*work).done)
		if len(pending) == 0 {
			o.finished = true
			return o, nil
		}
		v, err := c.readView(ctx, b.Repository)
		if err != nil {
			return o, err
		}
		kept, notes, err := c.judge(ctx, v, works)
		if err != nil {
			return o, err
		}
		// Strictness holds while nothing is done yet: later, a contradicted
		// item is skipped and reported like in a policy's batch.
		if bad := contradicted(notes); strict != nil && len(bad) > 0 && o.deleted+o.untagged == 0 {
			return o, strict(bad)
		}
		o.skipped = append(o.skipped, notesText(notes)...)
		if serves, err := c.servesDeletes(v, &slowViews); !serves {
			if err != nil {
				return o, err
			}
			continue
		}
		if err := c.runRound(v.until(ctx), v, pending, kept, &o); err != nil && !errors.Is(err, errViewExpired) {
			return o, err
		}
	}
}

// servesDeletes reports whether view v, once read (and judged), is still
// young enough for a DELETE to rely on it. It counts in *slow the views
// in a row that were not, and after slowViewsMax of them returns an
// error: the repository is never read fast enough, and re-reading it for
// ever would delete nothing.
func (c *Client) servesDeletes(v *view, slow *int) (bool, error) {
	age := time.Since(v.readAt)
	if age < v.maxAge {
		*slow = 0
		return true, nil
	}
	if *slow++; *slow < slowViewsMax {
		return false, nil
	}
	return false, fmt.Errorf("%d views of %q in a row took %s or longer to read (the last %s), and a DELETE relies on a view at most %s old: "+
		"nothing more was deleted there. Apply again when the registry is less busy, or raise max_concurrency so that a view is read faster",
		*slow, v.snap.Repository, v.maxAge.Round(time.Millisecond), age.Round(time.Millisecond), c.viewMaxAge)
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

// runRound sends the pending works' DELETEs in order while the view is
// fresh enough.
func (c *Client) runRound(ctx context.Context, v *view, pending []*work, kept map[string]bool, o *outcome) error {
	for _, w := range pending {
		if w.skipped {
			continue
		}
		if w.tag != "" {
			if err := c.removeTag(ctx, v, w, o); err != nil {
				return err
			}
			continue
		}
		for len(w.steps) > 0 {
			digest := w.steps[0]
			if !w.started || !kept[digest] { // a dependent that something kept uses again stays
				if err := c.deleteOnView(ctx, v, digest); err != nil {
					return err
				}
				if !w.started {
					o.deleted++
				}
			}
			w.started = true
			w.steps = w.steps[1:]
		}
	}
	return nil
}

// deleteOnView deletes a manifest by digest, relying on view v: only if
// no tag appeared since (noNewTags), and only while v is young enough (ctx
// from v.until).
func (c *Client) deleteOnView(ctx context.Context, v *view, digest string) error {
	if err := c.noNewTags(ctx, v); err != nil {
		return err
	}
	return c.DeleteManifest(ctx, v.snap.Repository, digest)
}

// noNewTags lists the repository's tags (one request per thousand) right
// before a DELETE by digest and ends the round if a tag appeared since the
// view: a new tag, the usual way a push lands on an old digest (a
// rollback, a release index), then waits for a view that resolves it,
// instead of for the view's age. A tag the view listed but could not
// resolve is not new: a dangling one stays so, and a round would never
// start.
func (c *Client) noNewTags(ctx context.Context, v *view) error {
	tags, err := c.Tags(ctx, v.snap.Repository)
	if err != nil {
		return err
	}
	for _, tag := range tags {
		if !v.snap.listed(tag) {
			return errViewExpired
		}
	}
	return nil
}

// removeTag removes a tag the view shows where the plan saw it (judge
// skipped a moved one): on its digest, or for a tag planned dangling,
// still resolving to nothing.
func (c *Client) removeTag(ctx context.Context, v *view, w *work, o *outcome) error {
	_, present := v.snap.Tags[w.tag]
	if present || (w.tagDigest == "" && v.snap.Unresolved[w.tag]) {
		if err := c.DeleteTag(ctx, v.snap.Repository, w.tag); err != nil {
			return err
		}
		o.untagged++
	}
	w.tag = "" // done
	return nil
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
		for _, w := range works {
			if w.done() || w.started {
				continue
			}
			if n, bad := v.contradicts(w, kept, removed); bad {
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
	return digest == w.manifest.Digest || (retention.IsReferrerTag(tag) && slices.Contains(w.manifest.Referrers, digest))
}

// keptAlive returns what the tags that stay keep alive, reading the bodies
// of staying manifests that may name a subject (referrer tags follow their
// subject instead of keeping it: their bodies are not needed).
func (c *Client) keptAlive(ctx context.Context, v *view, removed map[string]bool) (map[string]bool, error) {
	if err := c.readSubjects(ctx, v.snap, removed); err != nil {
		return nil, err
	}
	return v.snap.referenced(removed), nil
}

// readSubjects reads the bodies of the manifests that tags outside removed
// point at and that may name a subject, so that s knows what they keep.
func (c *Client) readSubjects(ctx context.Context, s *Snapshot, removed map[string]bool) error {
	var staying []string
	for tag, m := range s.Tags {
		if !removed[tag] && !retention.IsReferrerTag(tag) && mayNameSubject(m) && !slices.Contains(staying, m.Digest) {
			staying = append(staying, m.Digest)
		}
	}
	_, err := c.readLinks(ctx, s, staying)
	return err
}

// mayNameSubject: only OCI manifests carry a subject; Docker schema2 and
// schema1 manifests cannot, so their bodies need not be read.
func mayNameSubject(m Manifest) bool {
	return strings.HasPrefix(m.MediaType, "application/vnd.oci.")
}

// contradicts tells whether the view forbids a work not yet started, and
// why.
func (v *view) contradicts(w *work, kept, removed map[string]bool) (note, bool) {
	repo := v.snap.Repository
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
	if extra := missingFrom(d.Tags, v.snap.TagsOn(d.Digest)); len(extra) > 0 {
		return changed("since the plan, %s now point(s) at %s in %q, and deleting the digest would remove them too; run plan again to review",
			strings.Join(extra, ", "), d.Digest, repo)
	}
	if kept[d.Digest] {
		if users := v.usersOf(d.Digest, removed, d.BreakParents); len(users) > 0 {
			return changed("since the plan, %s in %q use(s) it (as an index child or a referrer's subject), and deleting it would break them; run plan again to review",
				strings.Join(users, ", "), repo)
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

// view is a fresh look at one repository.
type view struct {
	snap   *Snapshot
	readAt time.Time // when reading started: the view is no younger
	maxAge time.Duration
}

// readView reads a fresh view. It serves DELETEs for twice as long as it
// took to read, within [minViewAge, viewMaxAge]: a small repository is
// re-read every quarter second, so a tag pushed during its apply is rarely
// missed, and a large one costs at most half of the apply in reads.
func (c *Client) readView(ctx context.Context, repo string) (*view, error) {
	v := &view{readAt: time.Now()}
	var err error
	v.snap, err = c.Snapshot(ctx, repo)
	v.maxAge = min(max(2*time.Since(v.readAt), minViewAge), c.viewMaxAge)
	return v, err
}

// until returns ctx carrying the moment the view stops being fresh enough
// for a DELETE to rely on.
func (v *view) until(ctx context.Context) context.Context {
	return context.WithValue(ctx, notAfterKey{}, v.readAt.Add(v.maxAge))
}

type notAfterKey struct{}

// errViewExpired stops a round: the request was not sent.
var errViewExpired = errors.New("the view of the repository is too old for this request: read it again")

// checkNotAfter refuses a request whose view is too old; limitTransport
// calls it right before a request goes on the wire.
func checkNotAfter(ctx context.Context) error {
	if deadline, ok := ctx.Value(notAfterKey{}).(time.Time); ok && time.Now().After(deadline) {
		return errViewExpired
	}
	return nil
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
