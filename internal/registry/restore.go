package registry

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// Restoring what applies deleted, on request (registry_restore), from the
// journal they stored in the registry. Until garbage collection frees a
// deleted manifest's blobs, a PUT of its journaled bytes by digest brings
// it back exactly, then its tags: the same steps as the apply's own repair
// (repair.go's putBack and childrenFirst). Every manifest a restore lists
// is written, also one the registry answers for already (putBack says
// why a HEAD cannot be trusted to skip it).

// RestoreImage is one manifest of a planned restore.
type RestoreImage struct {
	Repository string
	Digest     string
	MediaType  string
	ApplyID    string
	DeletedAt  time.Time
	Size       int64    // bytes the manifest and what it names directly hold (Parts.Size)
	Tags       []string // tags the restore points at it: those gone now, and moved ones when overwriting
	MovedTags  []string // tags it had that point at another image now
	// MovedTo is the digest each of MovedTags pointed at when planned:
	// overwrite_moved_tags moves a tag back only while it still points
	// there (a tag pushed again since the plan was never reviewed).
	MovedTo map[string]string
	// TagsToNewer are tags it had that the restore gives back to another
	// image it restores, a newer deletion that had them too (a tag names
	// one image): tag -> that image's digest. The plan warns of them.
	TagsToNewer map[string]string
	// Present: the registry answered at plan time that it serves it (a
	// HEAD). The plan shows it; the restore writes its journaled bytes
	// all the same (putBack: the answer may come from a stale cache).
	Present bool
	Missing []string // what it needs and the registry no longer holds: it cannot come back
	// Why is what needs it, for a manifest the selection did not name
	// (an index's child, a referrer); "" for one it named.
	Why string
}

// Restorable tells whether the image can come back (or is back).
func (i RestoreImage) Restorable() bool { return len(i.Missing) == 0 }

// Changes tells whether the plan shows the restore changing what the
// registry answers for it: a manifest it does not serve, or tags. (The
// restore writes the manifest's bytes either way.)
func (i RestoreImage) Changes() bool { return !i.Present || len(i.Tags) > 0 }

// Restore is a planned restore, in the order it runs: by repository, each
// index after its children, each referrer after its subject.
type Restore struct {
	Images             []RestoreImage
	OverwriteMovedTags bool
}

// ExpiredError names the images that cannot come back, and what of each
// is gone; nil when every one can.
func (r Restore) ExpiredError() error {
	var expired []string
	for _, img := range r.Images {
		if !img.Restorable() {
			expired = append(expired, img.expired())
		}
	}
	if len(expired) == 0 {
		return nil
	}
	return fmt.Errorf("%d of the %d manifest(s) to restore cannot come back, because the registry no longer holds what they need "+
		"(garbage collection frees a deleted image's blobs; some registries, such as Gitea, free them as the manifest is deleted): %s. Nothing was restored. Restore the others by naming them "+
		"(tags or digests); the data source registry_journal shows which deletions are still restorable",
		len(expired), len(r.Images), strings.Join(expired, "; "))
}

func (i RestoreImage) expired() string {
	return fmt.Sprintf("%s in %q%s: %s gone", i.Digest, i.Repository, tagsNote(i.Tags, i.MovedTags), strings.Join(i.Missing, ", "))
}

func tagsNote(tags, moved []string) string {
	all := append(slices.Clone(tags), moved...)
	slices.Sort(all)
	all = slices.Compact(all)
	if len(all) == 0 {
		return ""
	}
	return " (" + strings.Join(all, ", ") + ")"
}

// Changes tells whether the plan shows the restore changing anything the
// registry answers: false when it answers for every image and tag
// already (the restore writes their manifests again all the same).
func (r Restore) Changes() bool {
	return slices.ContainsFunc(r.Images, RestoreImage.Changes)
}

// Repositories are the repositories the restore writes to: those of every
// image it lists, each manifest written (putBack).
func (r Restore) Repositories() []string {
	var repos []string
	for _, img := range r.Images {
		if !slices.Contains(repos, img.Repository) {
			repos = append(repos, img.Repository)
		}
	}
	return repos
}

// PlanRestore reads the journal and works out, for each manifest sel names
// and what it needs (an index's children, the referrers deleted with it),
// whether it can come back, whether the registry answers for it already,
// and which tags the restore would point at it. A manifest that cannot
// come back is listed with what is missing (Restore.ExpiredError).
func (c *Client) PlanRestore(ctx context.Context, sel RestoreSelection) (Restore, error) {
	records, err := c.ReadJournal(ctx, sel.filter())
	if err == nil && sel.ApplyID != "" {
		records, err = c.journalOfRepositories(ctx, records)
	}
	if err != nil {
		return Restore{}, err
	}
	targets, err := selectTargets(records, sel)
	if err != nil {
		return Restore{}, err
	}
	a := &availability{c: c, journal: indexJournal(records)}
	images, err := mapParallel(ctx, c.concurrency, targets, func(ctx context.Context, t *target) (*RestoreImage, error) {
		return a.plan(ctx, t, sel.OverwriteMovedTags)
	})
	if err != nil {
		return Restore{}, err
	}
	// Every dependency is listed, also one the registry answers for
	// (Present): the restore writes its journaled bytes, as the plan must
	// show. A HEAD 200 does not say that its storage holds it:
	// distribution answers from its descriptor cache, left stale by a pull
	// racing the DELETE, for a child whose link is gone, and checks an
	// index's children through the same cache. Left out, such a child
	// would stay unlinked under an index the restore reports back: a
	// restarted registry serves the index without it, and garbage
	// collection frees its blobs (review 47). Written again, one that is
	// truly there is unchanged (the same bytes, by digest).
	planned := Restore{OverwriteMovedTags: sel.OverwriteMovedTags}
	for _, img := range restoreOrder(targets, images) {
		planned.Images = append(planned.Images, *img)
	}
	return planned, nil
}

// journalOfRepositories reads the whole journal of each repository that
// records name: what one apply's deletions need to come back (an index's
// child) may have been deleted, and journaled, by an earlier apply.
func (c *Client) journalOfRepositories(ctx context.Context, records []JournalRecord) ([]JournalRecord, error) {
	repos := map[string]bool{}
	for _, r := range records {
		repos[r.Repository] = true
	}
	return c.readJournal(ctx, "", func(repo string) bool { return repos[repo] })
}

// restoreOrder orders images by repository, then each index after its
// children and each referrer after its subject, then by digest.
func restoreOrder(targets []*target, images []*RestoreImage) []*RestoreImage {
	byRepo := map[string]map[string]*RestoreImage{}
	order := map[string]map[string]links{}
	var repos []string
	for i, t := range targets {
		if byRepo[t.Repository] == nil {
			byRepo[t.Repository], order[t.Repository] = map[string]*RestoreImage{}, map[string]links{}
			repos = append(repos, t.Repository)
		}
		byRepo[t.Repository][t.Digest] = images[i]
		before := childDigests(t.parts)
		if t.parts.Subject != "" {
			before = append(before, t.parts.Subject)
		}
		order[t.Repository][t.Digest] = links{children: before}
	}
	slices.Sort(repos)
	var out []*RestoreImage
	for _, repo := range repos {
		set := map[string]bool{}
		for d := range byRepo[repo] {
			set[d] = true
		}
		for _, d := range childrenFirst(set, order[repo]) {
			out = append(out, byRepo[repo][d])
		}
	}
	return out
}

func childDigests(p Parts) []string {
	out := make([]string, len(p.Children))
	for i, child := range p.Children {
		out[i] = child.Digest
	}
	return out
}

// availability asks the registry what of the journaled manifests it still
// holds, each manifest and blob once.
type availability struct {
	c         *Client
	journal   journalIndex
	manifests memo[bool]         // repository@digest -> served
	blobs     memo[bool]         // repository@digest -> its bytes are served
	readers   memo[*http.Client] // repository -> client holding a pull token
	missing   memo[[]string]     // repository@digest@apply -> what it lacks
}

// plan says whether t can come back and which tags would point at it.
func (a *availability) plan(ctx context.Context, t *target, overwrite bool) (*RestoreImage, error) {
	img := &RestoreImage{Repository: t.Repository, Digest: t.Digest, MediaType: t.MediaType, ApplyID: t.ApplyID,
		DeletedAt: t.At, Size: t.parts.Size(t.Body), Why: t.why, TagsToNewer: t.toNewer}
	status, err := a.status(ctx, t.JournalRecord)
	if err != nil {
		return nil, err
	}
	img.Present, img.Missing = status.Present, status.Missing
	for _, tag := range t.tags {
		now, err := a.c.Resolve(ctx, t.Repository, tag)
		switch {
		case IsNotFound(err):
			img.Tags = append(img.Tags, tag)
		case err != nil:
			return nil, err
		case now.Digest == t.Digest: // back already
		default:
			img.MovedTags = append(img.MovedTags, tag)
			if img.MovedTo == nil {
				img.MovedTo = map[string]string{}
			}
			img.MovedTo[tag] = now.Digest
			if overwrite {
				img.Tags = append(img.Tags, tag)
			}
		}
	}
	return img, nil
}

// JournalStatus is whether a journaled deletion is undone already, or
// could be.
type JournalStatus struct {
	Present bool     // the registry serves the manifest again
	Missing []string // what it needs and the registry no longer holds (blobs freed by garbage collection, a child manifest)
}

// Restorable tells whether a restore could bring it back now.
func (s JournalStatus) Restorable() bool { return !s.Present && len(s.Missing) == 0 }

// Expired tells whether it can no longer come back.
func (s JournalStatus) Expired() bool { return !s.Present && len(s.Missing) > 0 }

// JournalStatuses says, for each record, whether it is back, restorable or
// expired. An index is restorable when each child is served or restorable
// from the journal itself.
func (c *Client) JournalStatuses(ctx context.Context, records []JournalRecord) ([]JournalStatus, error) {
	a := &availability{c: c, journal: indexJournal(records)}
	return mapParallel(ctx, c.concurrency, records, a.status)
}

func (a *availability) status(ctx context.Context, r JournalRecord) (JournalStatus, error) {
	present, err := a.present(ctx, r.Repository, r.Digest)
	if err != nil || present {
		return JournalStatus{Present: present}, err
	}
	missing, err := a.lacks(ctx, r)
	return JournalStatus{Missing: missing}, err
}

func (a *availability) present(ctx context.Context, repo, digest string) (bool, error) {
	return a.manifests.get(repo+"@"+digest, func() (bool, error) { return a.c.Exists(ctx, repo, digest) })
}

// lacks lists what a manifest that is not served needs and the registry
// does not hold: its blobs, and the children neither served nor
// restorable from the journal.
func (a *availability) lacks(ctx context.Context, r JournalRecord) ([]string, error) {
	return a.missing.get(r.Repository+"@"+r.Digest+"@"+r.ApplyID, func() ([]string, error) {
		parts, err := r.Parts()
		if err != nil {
			return nil, err
		}
		gone, err := mapParallel(ctx, a.c.concurrency, parts.Blobs, func(ctx context.Context, b retention.Blob) (bool, error) {
			served, err := a.blob(ctx, r.Repository, b)
			return !served, err
		})
		if err != nil {
			return nil, err
		}
		var missing []string
		for i, b := range parts.Blobs {
			if gone[i] {
				missing = append(missing, "blob "+b.Digest)
			}
		}
		for _, child := range parts.Children {
			ok, err := a.childAvailable(ctx, r, child.Digest)
			if err != nil {
				return nil, err
			}
			if !ok {
				missing = append(missing, "child manifest "+child.Digest)
			}
		}
		return missing, nil
	})
}

func (a *availability) childAvailable(ctx context.Context, parent JournalRecord, digest string) (bool, error) {
	if present, err := a.present(ctx, parent.Repository, digest); err != nil || present {
		return present, err
	}
	child, journaled := a.journal.find(parent.Repository, digest, parent.ApplyID)
	if !journaled {
		return false, nil
	}
	missing, err := a.lacks(ctx, child)
	return len(missing) == 0, err
}

// blob asks whether repo still holds a blob's bytes: a GET of its first
// byte. A HEAD is not enough: a registry that was not restarted after
// garbage collection still answers HEAD from its blob descriptor cache,
// and accepts a manifest naming the blob, while the bytes are gone.
func (a *availability) blob(ctx context.Context, repo string, b retention.Blob) (bool, error) {
	return a.blobs.get(repo+"@"+b.Digest, func() (bool, error) {
		r, err := a.c.repository(repo)
		if err != nil {
			return false, err
		}
		client, err := a.readers.get(repo, func() (*http.Client, error) {
			rt, err := transport.NewWithContext(ctx, r.Registry, a.c.auth, a.c.transport, []string{r.Scope(transport.PullScope)})
			return &http.Client{Transport: rt}, err
		})
		if err == nil {
			var held bool
			if held, err = firstByte(ctx, client, r, b); err == nil {
				return held, nil
			}
		}
		return false, a.c.translate("asking whether blob "+b.Digest+" is still held", repo, needPull, err)
	})
}

// firstByte reads the first byte of a blob: false when the registry does
// not have it, or answers for it and cannot serve its bytes, at each of
// blobReadTries (a registry whose cache outlived the bytes answers 206,
// then breaks off; so does a network cut, which does not last).
func firstByte(ctx context.Context, client *http.Client, r name.Repository, b retention.Blob) (bool, error) {
	u := url.URL{Scheme: r.Scheme(), Host: r.RegistryStr(), Path: fmt.Sprintf("/v2/%s/blobs/%s", r.RepositoryStr(), b.Digest)}
	for try := 1; ; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return false, err
		}
		if b.Size > 0 { // a range of an empty blob is unsatisfiable
			req.Header.Set("Range", "bytes=0-0")
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		if resp.StatusCode == http.StatusNotFound {
			drain(resp)
			return false, nil
		}
		if err := transport.CheckError(resp, http.StatusOK, http.StatusPartialContent); err != nil {
			drain(resp)
			return false, err
		}
		_, err = io.ReadFull(resp.Body, make([]byte, min(b.Size, 1)))
		drain(resp)
		if err == nil || try == blobReadTries {
			return err == nil, nil
		}
	}
}

const blobReadTries = 3

// ExecuteRestore performs a planned restore: each manifest it lists is
// written by digest from its journaled bytes (children before indexes,
// subjects before referrers), also one the registry answers for already
// (putBack), then the planned tags. A tag that points at another image
// than the plan saw is left where it is: overwrite_moved_tags moves back
// only a tag the plan showed moved, and only while it still points at
// the image the plan showed it on (MovedTo). A tag left so, and a
// manifest that can no longer come back, is an error after the rest is
// done. progress hears of each step.
func (c *Client) ExecuteRestore(ctx context.Context, planned Restore, progress func(string)) error {
	if err := planned.ExpiredError(); err != nil {
		return err
	}
	bodies, err := c.journaledBodies(ctx, planned)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	say := func(s string) { // from the writes side by side, one at a time
		mu.Lock()
		defer mu.Unlock()
		progress(s)
	}
	var written []string // what is back by digest
	// A restore that stops leaves what it wrote back without all its
	// tags: untagged, what garbage collection removes. Said, whichever
	// step failed (review 63).
	stopped := func(err error) error {
		if len(written) == 0 {
			return err
		}
		slices.Sort(written)
		return fmt.Errorf("%w\n\nBefore it stopped, the restore wrote back %d image(s) by digest, not all with their tags yet: %s. "+
			"Apply again (the plan lists what is left, tags included) before garbage collection runs with delete_untagged", err, len(written), strings.Join(written, ", "))
	}
	for _, wave := range restoreWaves(planned.Images, bodies) {
		_, err := mapParallel(ctx, c.concurrency, wave, func(ctx context.Context, img RestoreImage) (struct{}, error) {
			e := bodies[img.key()]
			served, err := c.putBack(ctx, img.Repository, img.Digest, e)
			if err == nil {
				mu.Lock()
				written = append(written, img.Repository+"@"+img.Digest)
				mu.Unlock()
			}
			switch {
			case err != nil:
				return struct{}{}, c.restoreFailed(ctx, img, e, served, err)
			case served:
				say(fmt.Sprintf("wrote %s in %s again (the registry answered that it was there already)", img.Digest, img.Repository))
			default:
				say(fmt.Sprintf("restored %s in %s", img.Digest, img.Repository))
			}
			return struct{}{}, nil
		})
		if err != nil {
			return stopped(err)
		}
	}
	type tagStep struct {
		img RestoreImage
		tag string
	}
	var steps []tagStep
	for _, img := range planned.Images {
		for _, tag := range img.Tags {
			steps = append(steps, tagStep{img, tag})
		}
	}
	left, err := mapParallel(ctx, c.concurrency, steps, func(ctx context.Context, s tagStep) (string, error) {
		now, err := c.Resolve(ctx, s.img.Repository, s.tag)
		if err != nil && !IsNotFound(err) {
			return "", err
		}
		if err == nil && now.Digest != s.img.Digest && !s.img.movesBack(planned.OverwriteMovedTags, s.tag, now.Digest) {
			return movedSincePlan(s.img, s.tag, now.Digest, planned.OverwriteMovedTags), nil
		}
		e := bodies[s.img.key()]
		if err := c.putManifest(ctx, s.img.Repository, s.tag, e); err != nil {
			return "", c.restoreFailed(ctx, s.img, e, false, err)
		}
		say(fmt.Sprintf("tagged %s:%s on %s", s.img.Repository, s.tag, s.img.Digest))
		return "", nil
	})
	if err != nil {
		return stopped(err)
	}
	problems := slices.DeleteFunc(left, func(p string) bool { return p == "" })
	if len(problems) > 0 {
		return fmt.Errorf("restored everything else the plan listed, but: %s", strings.Join(problems, "; "))
	}
	return nil
}

func (i RestoreImage) key() journalKey { return journalKey{i.Repository, i.Digest, i.ApplyID} }

// restoreWaves splits the images a restore writes into waves written side
// by side (max_concurrency), each image in the wave after those of what it
// needs that the restore writes too (an index's children, a referrer's
// subject, in its repository): undoing an apply of thousands of images
// behind network latency takes the round trips of one image per slot, not
// of every image in turn.
func restoreWaves(images []RestoreImage, bodies map[journalKey]JournalEntry) [][]RestoreImage {
	type ref struct{ repo, digest string }
	planned := map[ref]RestoreImage{}
	for _, img := range images {
		planned[ref{img.Repository, img.Digest}] = img
	}
	wave := map[ref]int{}
	var waveOf func(r ref, depth int) int
	waveOf = func(r ref, depth int) int {
		if w, ok := wave[r]; ok {
			return w
		}
		w := 0
		if l, err := entryLinks(bodies[planned[r].key()]); err == nil && depth < len(images) { // depth: no loop on a malformed journal
			for _, need := range append(slices.Clone(l.children), l.subject) {
				if _, ok := planned[ref{r.repo, need}]; ok && need != r.digest {
					w = max(w, waveOf(ref{r.repo, need}, depth+1)+1)
				}
			}
		}
		wave[r] = w
		return w
	}
	var waves [][]RestoreImage
	for _, img := range images {
		w := waveOf(ref{img.Repository, img.Digest}, 0)
		for len(waves) <= w {
			waves = append(waves, nil)
		}
		waves[w] = append(waves[w], img)
	}
	return waves
}

// movesBack tells whether overwriting moves tag, on digest now, back onto
// img: the plan showed it moved, onto that very digest. A tag pushed or
// moved again since the plan, onto an image the plan never showed, is
// kept: the plan is an upper bound, never a licence (review 54).
func (i RestoreImage) movesBack(overwriting bool, tag, now string) bool {
	return overwriting && slices.Contains(i.MovedTags, tag) && i.MovedTo[tag] == now
}

// movedSincePlan says why a tag on another image than the plan's was left
// there: overwrite_moved_tags moves only the tags the plan showed as moved
// (a tag the plan showed gone, pushed since, was never reviewed), and
// only off the image the plan showed them on.
func movedSincePlan(img RestoreImage, tag, now string, overwriting bool) string {
	switch {
	case overwriting && slices.Contains(img.MovedTags, tag) && img.MovedTo[tag] != "":
		return fmt.Sprintf("tag %s:%s was pushed onto %s since the plan, which showed it on %s: left there (plan again to review it where it is now)",
			img.Repository, tag, now, img.MovedTo[tag])
	case overwriting && slices.Contains(img.MovedTags, tag):
		return fmt.Sprintf("tag %s:%s points at %s, and the plan did not record which image it showed it on: left there (plan again to review it)",
			img.Repository, tag, now)
	case overwriting:
		return fmt.Sprintf("tag %s:%s was pushed onto %s since the plan, which showed it gone, not moved: left there (plan again to review it as moved)",
			img.Repository, tag, now)
	}
	return fmt.Sprintf("tag %s:%s was pushed onto %s since the plan: left there (overwrite_moved_tags moves it)", img.Repository, tag, now)
}

// journaledBodies reads back the journaled bytes of what the restore
// writes (every image it lists), reading only the chunks of the applies
// and repositories planned.
func (c *Client) journaledBodies(ctx context.Context, planned Restore) (map[journalKey]JournalEntry, error) {
	bodies := map[journalKey]JournalEntry{}
	reposOf := map[string]map[string]bool{} // apply -> its repositories planned
	for _, img := range planned.Images {
		if reposOf[img.ApplyID] == nil {
			reposOf[img.ApplyID] = map[string]bool{}
		}
		reposOf[img.ApplyID][img.Repository] = true
	}
	for _, id := range slices.Sorted(maps.Keys(reposOf)) {
		records, err := c.readJournal(ctx, id, func(repo string) bool { return reposOf[id][repo] })
		if err != nil {
			return nil, err
		}
		for _, r := range records {
			bodies[journalKey{r.Repository, r.Digest, r.ApplyID}] = r.JournalEntry
		}
	}
	for _, img := range planned.Images {
		if _, ok := bodies[img.key()]; !ok {
			return nil, fmt.Errorf("the journal of apply %s no longer holds %s in %q (its chunk was removed from %s since the plan): it cannot be restored",
				img.ApplyID, img.Digest, img.Repository, JournalRepository)
		}
	}
	return bodies, nil
}

// restoreFailed explains a refused PUT: by what is gone, when garbage
// collection freed blobs since the plan; served is whether the registry
// answered just before that it holds the manifest (putBack).
func (c *Client) restoreFailed(ctx context.Context, img RestoreImage, e JournalEntry, served bool, err error) error {
	a := &availability{c: c, journal: journalIndex{}}
	if missing, lerr := a.lacks(ctx, JournalRecord{JournalEntry: e, ApplyID: img.ApplyID}); lerr == nil && len(missing) > 0 {
		img.Missing = missing
		return fmt.Errorf("cannot restore %s: the registry no longer holds what it needs (garbage collection freed it since the plan, or the registry frees a deleted manifest's blobs at once, as Gitea does)", img.expired())
	}
	if served {
		return fmt.Errorf("restoring %s in %q: the registry answers that it holds it, but writing its journaled bytes again failed "+
			"(a registry can answer from its cache for a manifest its storage no longer holds): %w", img.Digest, img.Repository, err)
	}
	return fmt.Errorf("restoring %s in %q: %w", img.Digest, img.Repository, err)
}
