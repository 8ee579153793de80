package gc

import (
	"context"
	"fmt"
	"sync/atomic"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"golang.org/x/sync/errgroup"
)

// sweep deletes what plan lists, in the reference's order (manifests, then
// blobs, then layer links), each step in parallel. The paths deleted are
// the reference's, so both leave the same files behind.
func sweep(ctx context.Context, d storagedriver.StorageDriver, plan *sweepPlan, concurrency int, progress func(string)) error {
	var manifestPaths []string
	for _, m := range plan.manifests {
		for _, tag := range m.tags {
			manifestPaths = append(manifestPaths, tagIndexEntryPath(m.repo, tag, m.digest))
		}
		manifestPaths = append(manifestPaths, revisionPath(m.repo, m.digest))
	}
	blobPaths := make([]string, len(plan.blobs))
	for i, dg := range plan.blobs {
		blobPaths[i] = blobPath(dg)
	}
	layerPaths := make([]string, len(plan.layerLinks))
	for i, l := range plan.layerLinks {
		layerPaths[i] = layerLinkPath(l.repo, l.digest)
	}
	steps := []struct {
		what  string
		paths []string
	}{{"manifest links", manifestPaths}, {"blobs", blobPaths}, {"layer links", layerPaths}}
	for _, step := range steps {
		if err := deleteAll(ctx, d, step.paths, concurrency, func(done int) {
			progress(fmt.Sprintf("swept %d of %d %s", done, len(step.paths), step.what))
		}); err != nil {
			return fmt.Errorf("sweeping %s: %w", step.what, err)
		}
	}
	return nil
}

// deleteAll deletes paths in parallel, reporting progress about every
// tenth of the way. A path already gone is not an error: a second run, or
// another GC, got there first.
func deleteAll(parent context.Context, d storagedriver.StorageDriver, paths []string, concurrency int, progress func(done int)) error {
	if len(paths) == 0 {
		return nil
	}
	step := max(len(paths)/10, 1)
	var done atomic.Int64
	g, ctx := errgroup.WithContext(parent)
	g.SetLimit(concurrency)
	for _, p := range paths {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := d.Delete(ctx, p); err != nil && !isNotFound(err) {
				return fmt.Errorf("delete %s: %w", p, err)
			}
			if n := int(done.Add(1)); n%step == 0 || n == len(paths) {
				progress(n)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return parent.Err() // cancelled: some paths were not deleted
}
