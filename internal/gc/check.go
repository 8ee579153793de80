package gc

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// wholePrefixShare: on S3, where at least one in wholePrefixShare blob
// directories of a prefix directory (sha256/ab) is to be deleted, one
// listing of the prefix directory reads them for less than a listing per
// blob does. A listing costs a server about a request's overhead plus a
// small cost per key (about 0.13 ms on MinIO, a few keys' worth per
// request).
const wholePrefixShare = 8

// checkBlobs reads the data files of the blobs plan deletes, which the
// scan listed by name only (blobTable), before anything is deleted. A
// blob's size counts in BytesFreed. A directory without a data file is no
// blob: it stays, and so do the layer links naming it, as the reference
// leaves them. On S3 the listing of a blob's directory also shows the
// files the layout does not account for there, which decide how the sweep
// deletes it (sweep.go). A manifest found missing when the scan read it
// and there now stops the run: the storage changed under it, and its
// revision links were not planned for deletion.
func checkBlobs(ctx context.Context, walk walker, inv *inventory, plan *sweepPlan, concurrency int) error {
	found, err := readBlobSizes(ctx, walk, inv, append(slices.Clone(plan.blobs), plan.heldBack...), concurrency)
	if err != nil {
		return fmt.Errorf("cannot read the blobs to delete: %w", err)
	}
	plan.checkHeldBack(inv, found)
	var blobs []digest.Digest
	for _, dg := range plan.blobs {
		id, _ := inv.blobs.lookup(dg)
		size, exists := found[id]
		switch {
		case exists && inv.blobs.size(id) == noData:
			return fmt.Errorf("stopped before deleting anything: manifest %s was not in the storage when read and is there now: "+
				"the storage changed during the run. Collect garbage while the registry is read-only", dg)
		case exists:
			inv.blobs.setSize(id, size)
			blobs = append(blobs, dg)
			plan.bytesFreed += size
		default:
			inv.blobs.setSize(id, noData)
		}
	}
	plan.blobs = blobs
	plan.layerLinks = slices.DeleteFunc(plan.layerLinks, func(l layerLinkDeletion) bool {
		id, _ := inv.blobs.lookup(l.digest)
		return inv.blobs.size(id) == noData
	})
	return nil
}

// readBlobSizes visits the directories of blobs (walker.blob), or on S3
// their whole prefix directory where they are a large part of it, and
// returns the size of each data file found. Other files are recorded in
// inv.unexpected.
func readBlobSizes(ctx context.Context, walk walker, inv *inventory, blobs []digest.Digest, concurrency int) (map[blobID]int64, error) {
	found := map[blobID]int64{}
	var mu sync.Mutex
	record := func(fi storagedriver.FileInfo) error {
		if fi.IsDir() {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if id, ok := inv.blobs.lookup(parseBlobFile(fi.Path())); ok {
			found[id] = fi.Size()
		} else {
			inv.noteUnexpected([]string{fi.Path()})
		}
		return nil
	}
	listed := blobsPerPrefix(inv.blobs.digests)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for prefix, digests := range groupByPrefix(blobs) {
		if walk.listsKeys && len(digests)*wholePrefixShare >= listed[prefix] {
			g.Go(func() error { return walk.blobs(ctx, path.Dir(blobPath(digests[0])), record) })
			continue
		}
		for _, dg := range digests {
			g.Go(func() error { return walk.blob(ctx, blobPath(dg), record) })
		}
	}
	return found, g.Wait()
}

// prefixOf names the prefix directory of a blob: "sha256:ab" for
// blobs/sha256/ab. It shares the digest's memory.
func prefixOf(dg digest.Digest) string {
	s := string(dg)
	return s[:strings.IndexByte(s, ':')+3]
}

func groupByPrefix(digests []digest.Digest) map[string][]digest.Digest {
	groups := map[string][]digest.Digest{}
	for _, dg := range digests {
		groups[prefixOf(dg)] = append(groups[prefixOf(dg)], dg)
	}
	return groups
}

func blobsPerPrefix(digests []digest.Digest) map[string]int {
	counts := map[string]int{}
	for _, dg := range digests {
		counts[prefixOf(dg)]++
	}
	return counts
}

// checkHeldBack keeps of what the grace holds back the blobs found, and
// their sizes: a blob directory without data holds nothing back.
func (plan *sweepPlan) checkHeldBack(inv *inventory, found map[blobID]int64) {
	plan.heldBack = slices.DeleteFunc(plan.heldBack, func(dg digest.Digest) bool {
		id, _ := inv.blobs.lookup(dg)
		size, ok := found[id]
		plan.bytesHeldBack += size
		return !ok
	})
	plan.heldManifests = slices.DeleteFunc(plan.heldManifests, func(id blobID) bool {
		_, ok := found[id]
		return !ok
	})
}
