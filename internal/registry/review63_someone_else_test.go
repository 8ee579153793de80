package registry

// Regression test of review 63 (fixed: a DELETE that finds the manifest gone on its only try is someone else's deletion and is withdrawn (journal.refused)); failed before the fix.
//
// Review 63: a manifest someone else deleted between the apply's journal
// record and its DELETE (the DELETE answered 404 at its first and only
// try) stays in the journal as deleted by the apply, though the apply says
// it did not delete it (report.Deleted, Performed); registry_restore with
// the apply's apply_id plans it back.
//
// What is wrong: deleteJournaled (execute.go) takes a first-try 404 as
// "someone else was first: not this apply's deletion" and neither confirms
// it nor calls journal.refused: j.sent stays 1, so withdrawKept never
// withdraws the entry record stored before the DELETE. The journal (what
// registry_journal shows and registry_restore by apply_id undoes) and the
// apply's own report disagree.
//
// Why it matters: "the journal says exactly what the apply deleted". The
// other deleter may be a person removing a bad image, or a second apply
// (another workspace's policy over the same repositories): undoing this
// apply by apply_id brings back an image this apply never deleted, which
// someone removed on purpose, with its tags.
//
// Suggested fix: treat a 404 with no earlier unknown try like a DELETE not
// carried out: j.refused(digest) (the entry is withdrawn after the chunk),
// or store a withdrawal for it; keep it only when an earlier try may have
// deleted it (earlierUnknown), as now.
//
// Reproduce: go test -count=1 -run TestReview63JournalKeepsWhatSomeoneElseDeleted ./internal/registry
// (distribution v3 in process, and 2.8).

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview63JournalKeepsWhatSomeoneElseDeleted(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review63/someone-else"
		ctx := context.Background()
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 {
			t.Fatalf("planned %+v; want pr-1's image", batch.Manifests)
		}
		// Someone else deletes it after the apply journaled it, right
		// before the apply's DELETE reaches the registry.
		onFirstDeleteOf(proxy, x.Digest.String(), func() {
			if err := reg.DeleteManifest(repo, x.Digest); err != nil {
				t.Errorf("someone else's DELETE: %v", err)
			}
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		proxy.setFault(nil)
		t.Logf("apply: %v; deleted %d; performed %+v", err, report.Deleted, report.Performed)
		if err != nil {
			t.Fatal(err)
		}
		if report.Deleted != 0 {
			t.Fatalf("report.Deleted = %d; the scenario wants the apply to say it deleted nothing", report.Deleted)
		}
		ids := applyIDs60(t, c)
		if len(ids) != 1 {
			t.Fatalf("the journal names applies %q; want one", ids)
		}
		restore, perr := c.PlanRestore(ctx, RestoreSelection{ApplyID: ids[0]})
		t.Logf("registry_restore with apply_id = %q: %d image(s), %v", ids[0], len(restore.Images), perr)
		if perr == nil && slices.ContainsFunc(restore.Images, func(img RestoreImage) bool { return img.Digest == x.Digest.String() }) {
			t.Errorf("registry_restore with apply_id = %q plans %s (pr-1) back, which the apply says it did not delete (report.Deleted 0, "+
				"someone else's DELETE came first): the journal lists it as deleted by the apply", ids[0], x.Digest)
		}
	})
}
