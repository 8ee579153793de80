// Package gc is registry garbage collection run in-process against a
// registry's storage backend through distribution v3's storage drivers:
// mark what the repositories still reference, sweep the rest.
//
// It deletes what `registry garbage-collect [--delete-untagged]` of
// distribution v3 deletes on the same storage (see mark for the rules and
// the deliberate differences), but reads the storage in parallel
// listings and reads instead of a sequential round trip per manifest and
// tag, which on object storage is most of the reference's time, and on
// S3 deletes a thousand keys per request (s3.go). It
// writes nothing to stdout: in a provider, stdout belongs to the plugin
// protocol. Progress goes to Options.Progress.
package gc

import (
	"context"
	"fmt"
	"sync"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// DefaultConcurrency bounds parallel storage requests when Options leaves
// it zero: enough to hide object-storage latency, few enough not to be
// throttled.
const DefaultConcurrency = 32

// Options are a run's settings.
type Options struct {
	// DeleteUntagged also deletes manifests no tag references, except
	// index children and referrers of kept manifests (--delete-untagged).
	DeleteUntagged bool
	// Protect maps repositories to manifest digests kept with
	// DeleteUntagged as if tagged, with everything they reference: the
	// deployed images pinned by digest whose tags were removed.
	Protect map[string][]string
	// DryRun reports what would be deleted and deletes nothing.
	DryRun bool
	// Concurrency bounds parallel storage requests; 0 means DefaultConcurrency.
	Concurrency int
	// Progress, when set, receives human-readable progress messages.
	Progress func(message string)
	// KeepDeletedWithin is the grace: what the manifests the journal
	// records as deleted within it need stays, so registry_restore can put
	// them back; the journal's chunks older than it are pruned (grace.go).
	// Zero: no grace, and the journal is left alone.
	KeepDeletedWithin time.Duration
	// Now is the end of the grace's window; zero means the time of the run.
	Now time.Time
}

// Report is what a run found and deleted (with DryRun: would delete).
type Report struct {
	DryRun              bool
	RepositoriesScanned int
	ManifestsScanned    int // manifests linked into repositories
	BlobsScanned        int // blob directories listed
	ManifestsDeleted    int
	BlobsDeleted        int
	LayerLinksDeleted   int
	BytesFreed          int64 // sizes of the deleted blobs, read before deleting
	// With a grace (Options.KeepDeletedWithin): what it keeps that a run
	// without it would delete, and the journal's chunks pruned.
	KeepDeletedWithin   time.Duration
	ManifestsHeldBack   int   // deleted manifests kept restorable
	BlobsHeldBack       int   // their blobs, and those of the manifests they keep
	BytesHeldBack       int64 // the sizes of those blobs
	JournalChunksPruned int
	Duration            time.Duration
}

// Run collects garbage on storage. Every read happens before the first
// deletion, so an error while reading deletes nothing.
func Run(ctx context.Context, d storagedriver.StorageDriver, opts Options) (Report, error) {
	start := time.Now()
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	progress := serialized(opts.Progress)

	// Tags decide what is kept only with DeleteUntagged: without it every
	// linked manifest is, so a run reads no tag link (a request per tag
	// on object storage, a third of the reads at 100,000 manifests).
	inv, err := scan(ctx, d, opts.Concurrency, opts.DeleteUntagged, progress)
	if err != nil {
		return Report{}, err
	}
	report := Report{DryRun: opts.DryRun, RepositoriesScanned: len(inv.repos), BlobsScanned: inv.blobs.len()}
	for _, r := range inv.repos {
		report.ManifestsScanned += len(r.revisions)
	}
	progress(fmt.Sprintf("scanned %d repositories: %d manifests, %d blobs", report.RepositoriesScanned, report.ManifestsScanned, report.BlobsScanned))
	if cutoff, ok := graceFor(opts); ok {
		report.KeepDeletedWithin = opts.KeepDeletedWithin
		if err := inv.readJournal(ctx, d, opts.Concurrency, cutoff); err != nil {
			return report, err
		}
		progress(fmt.Sprintf("read the journal: %d manifests deleted within %s, %d chunks older",
			graced(inv), formatWindow(opts.KeepDeletedWithin), len(inv.pruned)))
	}

	plan := mark(inv, opts)
	if report.KeepDeletedWithin > 0 {
		plan.holdBack(inv, mark(inv.withoutGrace(), opts))
	}
	if err := checkBlobs(ctx, newWalker(d, opts.DeleteUntagged), inv, plan, opts.Concurrency); err != nil {
		return report, err
	}
	progress(fmt.Sprintf("read the data of %d blobs to delete", len(plan.blobs)))
	reportMarks(inv, plan, progress)
	report.record(plan)

	if !opts.DryRun {
		if err := sweep(ctx, d, plan, inv.unexpected, opts.Concurrency, progress); err != nil {
			return report, err
		}
	}
	report.Duration = time.Since(start)
	progress(report.Summary())
	return report, nil
}

// record fills in the deletions of plan.
func (r *Report) record(plan *sweepPlan) {
	r.ManifestsDeleted = len(plan.manifests)
	r.BlobsDeleted = len(plan.blobs)
	r.LayerLinksDeleted = len(plan.layerLinks)
	r.BytesFreed = plan.bytesFreed
	r.ManifestsHeldBack = len(plan.heldManifests)
	r.BlobsHeldBack = len(plan.heldBack)
	r.BytesHeldBack = plan.bytesHeldBack
	r.JournalChunksPruned = len(plan.chunks)
}

// reportMarks sends one progress message per repository.
func reportMarks(inv *inventory, plan *sweepPlan, progress func(string)) {
	deleted := map[string]int{}
	for _, m := range plan.manifests {
		deleted[m.repo]++
	}
	for _, r := range inv.repos {
		progress(fmt.Sprintf("marked %s: %d manifests kept, %d to delete", r.name, len(r.revisions)-deleted[r.name], deleted[r.name]))
	}
}

// serialized makes progress safe to call from parallel deletions.
func serialized(progress func(string)) func(string) {
	if progress == nil {
		return func(string) {}
	}
	var mu sync.Mutex
	return func(message string) {
		mu.Lock()
		defer mu.Unlock()
		progress(message)
	}
}

// Summary is the one-line outcome of a run.
func (r Report) Summary() string {
	verb := "deleted"
	if r.DryRun {
		verb = "dry run, would delete"
	}
	summary := fmt.Sprintf("%s %d blobs (%s), %d manifests, %d layer links in %d repositories",
		verb, r.BlobsDeleted, FormatBytes(r.BytesFreed), r.ManifestsDeleted, r.LayerLinksDeleted, r.RepositoriesScanned)
	if r.KeepDeletedWithin > 0 {
		prune := "pruned"
		if r.DryRun {
			prune = "would prune"
		}
		summary += fmt.Sprintf("; kept %d blobs (%s) of %d manifests deleted within %s, restorable; %s %d journal chunks older",
			r.BlobsHeldBack, FormatBytes(r.BytesHeldBack), r.ManifestsHeldBack, formatWindow(r.KeepDeletedWithin), prune, r.JournalChunksPruned)
	}
	return fmt.Sprintf("%s (%s)", summary, r.Duration.Round(time.Millisecond))
}

// FormatBytes renders a byte count for people: 1.5 MiB.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
