package gc

import (
	"context"
	"fmt"
	"path"
	"sync/atomic"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/journalformat"
)

// deletion is a path the reference deletes (a directory, or a layer
// link file) and the one file the layout puts there ("" for the path
// itself), kept apart so that only batch deletion pays for joining them.
type deletion struct {
	path string
	file string
}

func (del deletion) filePath() string {
	if del.file == "" {
		return del.path
	}
	return del.path + "/" + del.file
}

// batchDeleter is a storage that deletes files by their exact path many
// at a time: S3's DeleteObjects (s3.go). The driver's Delete lists a
// path's objects before deleting them, two requests per path.
type batchDeleter interface {
	deleteFiles(ctx context.Context, files []string, progress func(deleted int)) error
}

// knownFileDeleter is a storage that deletes one path faster knowing the
// file the layout puts there: the filesystem (filesystem.go).
type knownFileDeleter interface {
	deleteKnown(ctx context.Context, del deletion) error
}

// sweep deletes what plan lists, in the reference's order (manifests, then
// blobs, then layer links), each step in parallel. The paths deleted are
// the reference's, so both leave the same files behind. unexpected is the
// scan's (inventory.unexpected). Each step's paths are made when it
// starts: at 100,000 manifests they take more memory than the inventory.
func sweep(ctx context.Context, d storagedriver.StorageDriver, plan *sweepPlan, unexpected map[string]bool, concurrency int, progress func(string)) error {
	steps := []struct {
		what      string
		deletions func() []deletion
		whole     bool // directories no one file stands for: deleted through the driver, all they hold
	}{
		{what: "journal chunk tags", whole: true, deletions: func() []deletion {
			out := make([]deletion, len(plan.chunks))
			for i, c := range plan.chunks {
				out[i] = deletion{tagPath(journalformat.Repository, c.tag), ""}
			}
			return out
		}},
		{what: "manifest links", deletions: func() []deletion {
			var out []deletion
			for _, m := range plan.manifests {
				for _, tag := range m.tags {
					out = append(out, deletion{tagIndexEntryPath(m.repo, tag, m.digest), "link"})
				}
				out = append(out, deletion{revisionPath(m.repo, m.digest), "link"})
			}
			for _, c := range plan.chunks {
				if c.unlink {
					out = append(out, deletion{revisionPath(journalformat.Repository, c.digest), "link"})
				}
			}
			return out
		}},
		{what: "blobs", deletions: func() []deletion {
			out := make([]deletion, len(plan.blobs))
			for i, dg := range plan.blobs {
				out[i] = deletion{blobPath(dg), "data"}
			}
			return out
		}},
		{what: "layer links", deletions: func() []deletion {
			out := make([]deletion, len(plan.layerLinks))
			for i, l := range plan.layerLinks {
				out[i] = deletion{layerLinkPath(l.repo, l.digest), ""}
			}
			return out
		}},
	}
	for _, step := range steps {
		deletions := step.deletions()
		count := newProgressCounter(len(deletions), func(done int) {
			progress(fmt.Sprintf("swept %d of %d %s", done, len(deletions), step.what))
		})
		var err error
		if step.whole {
			err = deleteAll(ctx, d, deletions, concurrency, count)
		} else {
			err = deleteEach(ctx, d, deletions, unexpected, concurrency, count)
		}
		if err != nil {
			return fmt.Errorf("sweeping %s: %w", step.what, err)
		}
	}
	return nil
}

// deleteEach deletes the deletions: on a batchDeleter by their one file,
// except where the scan found other files (the driver's Delete removes
// those too); elsewhere, or there, one at a time (deleteOne).
func deleteEach(ctx context.Context, d storagedriver.StorageDriver, deletions []deletion, unexpected map[string]bool, concurrency int, count *progressCounter) error {
	batch, batched := d.(batchDeleter)
	if !batched {
		return deleteAll(ctx, d, deletions, concurrency, count)
	}
	var files []string
	var others []deletion
	for _, del := range deletions {
		if unexpected[del.path] {
			others = append(others, del)
		} else {
			files = append(files, del.filePath())
		}
	}
	if len(files) > 0 {
		if err := batch.deleteFiles(ctx, files, count.add); err != nil {
			return err
		}
	}
	return deleteAll(ctx, d, others, concurrency, count)
}

// deleteAll deletes each deletion's path through a knownFileDeleter or
// the driver's Delete, in parallel by parent directory: one worker takes
// all the paths of a directory, one after another. Removing a path locks
// its parent directory, so workers in the same one only wait on each
// other: the paths come sorted, and at 100,000 blobs, 32 workers on
// consecutive paths (sharing the 256 prefix directories) took 4.6 times
// as long on ext4. A path already gone is not an error: a second run, or
// another GC, got there first.
func deleteAll(parent context.Context, d storagedriver.StorageDriver, deletions []deletion, concurrency int, count *progressCounter) error {
	deleteOne := func(ctx context.Context, del deletion) error { return d.Delete(ctx, del.path) }
	if known, ok := d.(knownFileDeleter); ok {
		deleteOne = known.deleteKnown
	}
	g, ctx := errgroup.WithContext(parent)
	g.SetLimit(concurrency)
	for _, group := range byParent(deletions) {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			for _, del := range group {
				if err := ctx.Err(); err != nil {
					return err // Wait keeps the first error: a failed deletion, or the cancellation
				}
				if err := deleteOne(ctx, del); err != nil && !isNotFound(err) {
					return fmt.Errorf("delete %s: %w", del.path, err)
				}
				count.add(1)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return parent.Err() // cancelled: some paths were not deleted
}

// byParent groups deletions by the directory that holds their path, in
// the order the directories first appear.
func byParent(deletions []deletion) [][]deletion {
	index := map[string]int{}
	var groups [][]deletion
	for _, del := range deletions {
		dir := path.Dir(del.path)
		i, ok := index[dir]
		if !ok {
			i = len(groups)
			index[dir] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], del)
	}
	return groups
}

// progressCounter reports a count of deletions about every tenth of the
// way, and at the end.
type progressCounter struct {
	total, step int64
	done        atomic.Int64
	report      func(done int)
}

func newProgressCounter(total int, report func(done int)) *progressCounter {
	return &progressCounter{total: int64(total), step: max(int64(total)/10, 1), report: report}
}

// add counts n more deletions; safe from parallel deletions.
func (c *progressCounter) add(n int) {
	done := c.done.Add(int64(n))
	if done/c.step != (done-int64(n))/c.step || done == c.total {
		c.report(int(done))
	}
}
