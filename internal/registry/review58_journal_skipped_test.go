package registry

// Regression test of review 58 (fixed: after each chunk, what the journal stored and the apply sent no DELETE for is withdrawn by an entry of its own, JournalEntry.Kept, which ReadJournal applies in chunk order: withdrawKept, withoutWithdrawn); failed before the fix.
//
// Review 58: the journal records, as deleted by an apply, a planned image
// the apply skipped at its last check.
//
// What is wrong: record (journal.go) journals each chunk item's own
// manifest unconditionally ((i == 0 && !w.started), whatever kept says),
// before the chunk's last check. The last check exists for a tag pushed
// onto a planned digest while the chunk is read: the judge after it skips
// the item, runChunk sends no DELETE, but the entry, with the tags the
// image had, is already stored in the registry's journal. Review 58's fix
// (a0df4ff, "one that stays is never journaled as deleted") covers the
// dependents only. Nothing in the journal tells a skipped entry from a
// deletion (journalformat.Entry), and ReadJournal, registry_journal and
// registry_restore take every entry as a deletion.
//
// User-visible consequence: registry_journal lists the image as deleted by
// the apply ("the apply that deleted it", "the tags it had when it was
// deleted"), though the apply kept it and said so; once its planned tag is
// removed later (the next apply untags it: the image is kept by the new
// tag), registry_restore with the first apply's apply_id plans to point
// that tag at it again, a tag that apply never removed.
//
// Suggested fix: journal an item's own manifest too only as record's
// second pass does (after the last check's judge, when it is still to be
// deleted), or store a follow-up marking what the chunk kept, which
// ReadJournal leaves out.
//
// Reproduce: go test -count=1 -run TestReview58JournalListsAnImageSkippedAtTheLastCheckAsDeleted ./internal/registry/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview58JournalListsAnImageSkippedAtTheLastCheckAsDeleted(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review58/journal-skipped"
		ctx := context.Background()
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		planned, err := reg.PushImage(repo, created, "pr-1")
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
		// Someone tags pr-1's image "release" as the apply stores the
		// chunk's journal, before the chunk's last check.
		var once sync.Once
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			if strings.HasPrefix(r.URL.Path, "/v2/"+JournalRepository+"/") {
				once.Do(func() {
					if err := reg.Tag(repo, planned.Digest, "release"); err != nil {
						t.Error(err)
					}
				})
			}
			return false
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nskipped %q\nrestored %q\nwarnings %q\nlost %q\ndeleted %d", err, report.Skipped, report.Restored, report.Warnings, report.Lost, report.Deleted)
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, true, planned.Digest)
		records, err := c.ReadJournal(ctx, JournalFilter{Repository: repo})
		if err != nil {
			t.Fatal(err)
		}
		apply := ""
		for _, r := range records {
			if r.Digest == planned.Digest.String() {
				apply = r.ApplyID
				t.Errorf("the journal (registry_journal) lists %s as deleted by apply %s, with tags %q: the apply kept it (release was pushed onto it)", r.Digest, r.ApplyID, r.Tags)
			}
		}
		if apply == "" {
			return
		}
		// pr-1 is removed later (the image is kept by release); a restore of
		// what the first apply deleted must not bring it back.
		if err := c.DeleteTag(ctx, repo, "pr-1"); err != nil {
			t.Fatal(err)
		}
		restore, err := c.PlanRestore(ctx, RestoreSelection{ApplyID: apply})
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range restore.Images {
			if slices.Contains(img.Tags, "pr-1") {
				t.Errorf("registry_restore with apply_id = %q plans to point pr-1 at %s again: a tag that apply never removed", apply, img.Digest)
			}
		}
	})
}
