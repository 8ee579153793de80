package gc

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/journalformat"
)

// The grace (Options.KeepDeletedWithin): the journal that retention
// applies store in the registry (journalformat.Repository, journal.go
// there) names every manifest they deleted, with its body. registry_restore
// PUTs that body back, which works while the registry still holds the
// manifest's blob and the blobs it names. A run with a grace reads the
// journal from the storage, as the registry would serve it (tag link,
// manifest blob, layer blob), and keeps for each manifest deleted within
// the window what restoring it needs:
//
//   - its manifest blob and every blob it references (config, layers,
//     index children), marked before any repository is, so no
//     repository's link to them is deleted either: the registry checks
//     those links when the manifest is PUT back;
//   - with DeleteUntagged, the manifests still linked in its repository
//     that it reaches by the rule deployed images follow (retention.Pinned:
//     index children, its subject, its referrers), as if it were pinned:
//     an index comes back only with its children.
//
// Journal chunks whose newest entry is older than the window are pruned:
// their tags and revision links are deleted, so the same run sweeps their
// blobs. Without a grace the journal is left alone, as any tagged
// repository is.

// journalChunk is a chunk of the journal found in the storage.
type journalChunk struct {
	tag      string
	manifest blobID
	digest   digest.Digest // the manifest's
	newest   time.Time     // of its entries; zero when it holds none
	unlink   bool          // pruned, and no younger chunk's tag names its manifest: its revision link goes
}

// graceFor is the window's start: entries at or after it are held.
func graceFor(opts Options) (cutoff time.Time, ok bool) {
	if opts.KeepDeletedWithin <= 0 {
		return time.Time{}, false
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	return now.Add(-opts.KeepDeletedWithin), true
}

// readJournal reads the journal's chunks from the storage in parallel,
// records the deleted manifests within the window (inv.graced, with what
// each references in inv.manifests) and the chunks older than it
// (inv.pruned). A chunk of the journal's making that cannot be read stops
// the run before anything is deleted, as an unreadable manifest does: GC
// cannot tell what its entries need kept.
func (inv *inventory) readJournal(ctx context.Context, d storagedriver.StorageDriver, concurrency int, cutoff time.Time) error {
	tagsDir := path.Join(repositoriesRoot, journalformat.Repository, "_manifests/tags")
	tags, err := listDirectory(ctx, d, tagsDir)
	if err != nil {
		return fmt.Errorf("cannot list the journal's chunks: %w", err)
	}
	var mu sync.Mutex
	var chunks []journalChunk
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, dir := range tags {
		tag := path.Base(dir)
		if _, ok := journalformat.ApplyIDOf(tag); !ok {
			continue
		}
		g.Go(func() error {
			chunk, entries, err := inv.readChunk(gctx, d, tag)
			if err != nil || chunk == nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			chunks = append(chunks, *chunk)
			inv.holdEntries(entries, cutoff)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	inv.prune(chunks, cutoff)
	return nil
}

// readChunk reads the chunk tag names: nil for a tag whose link or
// manifest is gone, or whose manifest the journal did not make.
func (inv *inventory) readChunk(ctx context.Context, d storagedriver.StorageDriver, tag string) (*journalChunk, []journalformat.Entry, error) {
	stop := func(err error) error {
		return fmt.Errorf("stopped before deleting anything: the journal's chunk %s:%s cannot be read (%w), so what its deleted manifests "+
			"need kept is unknown. Inspect it; if it is damaged, delete it through the registry (DELETE /v2/%s/manifests/<its digest>), "+
			"or collect without keep_deleted_within", journalformat.Repository, tag, err, journalformat.Repository)
	}
	dg, err := readLink(ctx, d, path.Join(repositoriesRoot, journalformat.Repository, "_manifests/tags", tag, "current/link"))
	if isNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, stop(err)
	}
	id, ok := inv.blobs.lookup(dg)
	if !ok {
		return nil, nil, nil
	}
	body, err := d.GetContent(ctx, path.Join(blobPath(dg), "data"))
	if isNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, stop(err)
	}
	manifest, ours, err := journalformat.ParseManifest(body)
	if err != nil {
		return nil, nil, stop(err)
	}
	if !ours {
		return nil, nil, nil
	}
	layer, err := d.GetContent(ctx, path.Join(blobPath(digest.Digest(manifest.Layer)), "data"))
	if err != nil {
		return nil, nil, stop(err)
	}
	entries, err := journalformat.ParseChunk(layer)
	if err != nil {
		return nil, nil, stop(err)
	}
	chunk := &journalChunk{tag: tag, manifest: id, digest: inv.blobs.digest(id)}
	for _, e := range entries {
		if e.At.After(chunk.newest) {
			chunk.newest = e.At
		}
	}
	return chunk, entries, nil
}

// holdEntries records the entries within the window whose manifest blob
// the storage still holds, once per repository and digest.
func (inv *inventory) holdEntries(entries []journalformat.Entry, cutoff time.Time) {
	for _, e := range entries {
		id, ok := inv.blobs.lookup(digest.Digest(e.Digest))
		if e.At.Before(cutoff) || !ok || slices.Contains(inv.graced[e.Repository], id) {
			continue
		}
		inv.graced[e.Repository] = append(inv.graced[e.Repository], id)
		if _, parsed := inv.manifests[id]; !parsed {
			inv.manifests[id] = inv.journaledBlobs(e)
		}
	}
}

// journaledBlobs is what a journaled body references, by the rule every
// manifest is marked by (parseManifest), and its subject as the journal
// reads it (a cosign signature's fallback tag names the image it signs).
func (inv *inventory) journaledBlobs(e journalformat.Entry) manifestBlobs {
	m := manifestBlobs{subject: noBlob}
	refs, err := parseManifest(e.Body)
	parts, _ := e.Parts()
	if err != nil { // a kind GC does not mark by: what the journal reads of it
		for _, b := range append(parts.Blobs, parts.Children...) {
			refs.references = append(refs.references, digest.Digest(b.Digest))
		}
	}
	m.references = inv.blobs.lookupAll(refs.references)
	if id, ok := inv.blobs.lookup(digest.Digest(cmp.Or(string(refs.subject), parts.Subject))); ok {
		m.subject = id
	}
	return m
}

// prune takes the chunks whose newest entry is older than cutoff out of
// the journal repository, as if untagged and deleted through the API:
// marking then finds their blobs unreferenced. A manifest another,
// younger, tag still names stays linked.
func (inv *inventory) prune(chunks []journalChunk, cutoff time.Time) {
	i := slices.IndexFunc(inv.repos, func(r *repository) bool { return r.name == journalformat.Repository })
	if i < 0 {
		return
	}
	r := inv.repos[i]
	young := map[blobID]bool{}
	for _, c := range chunks {
		if !c.newest.Before(cutoff) {
			young[c.manifest] = true
		}
	}
	unlinked := map[blobID]bool{}
	for _, c := range chunks {
		if c.newest.Before(cutoff) {
			c.unlink = !young[c.manifest] && !unlinked[c.manifest]
			unlinked[c.manifest] = !young[c.manifest]
			inv.pruned = append(inv.pruned, c)
			delete(r.tags, c.tag)
		}
	}
	r.revisions = slices.DeleteFunc(r.revisions, func(id blobID) bool { return unlinked[id] })
	slices.SortFunc(inv.pruned, func(a, b journalChunk) int { return strings.Compare(a.tag, b.tag) })
}

// markGrace marks what the grace keeps whatever the repositories keep:
// each held manifest's blob and what it references.
func markGrace(inv *inventory, plan *sweepPlan) {
	for _, ids := range inv.graced {
		for _, id := range ids {
			plan.marked[id] = true
			for _, ref := range inv.manifests[id].references {
				plan.marked[ref] = true
			}
		}
	}
}

// holdBack records what plan keeps that without, the same run without
// the grace, would delete: the blobs (sized by checkBlobs) and the held
// manifests.
func (plan *sweepPlan) holdBack(inv *inventory, without *sweepPlan) {
	for id, marked := range plan.marked {
		if marked && !without.marked[id] {
			plan.heldBack = append(plan.heldBack, inv.blobs.digest(blobID(id)))
		}
	}
	slices.Sort(plan.heldBack)
	for _, ids := range inv.graced {
		for _, id := range ids {
			if !without.marked[id] {
				plan.heldManifests = append(plan.heldManifests, id)
			}
		}
	}
}

// withoutGrace is inv as a run without a grace marks it (the pruning
// aside).
func (inv *inventory) withoutGrace() *inventory {
	other := *inv
	other.graced = nil
	return &other
}

// formatWindow writes a duration as people set it: 168h, not 168h0m0s.
func formatWindow(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// graced counts the deleted manifests the grace holds.
func graced(inv *inventory) int {
	n := 0
	for _, ids := range inv.graced {
		n += len(ids)
	}
	return n
}
