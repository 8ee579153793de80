package registry

// Regression test of review 60 (fixed: record journals again an entry whose tags the last check changed, and ReadJournal keeps the last entry of a manifest an apply journaled); failed before the fix.
//
// Review 60: the journal gives a deleted manifest the tags the view saw,
// not those its DELETE took: a tag removed by someone else before the
// DELETE is journaled as deleted by the apply, and a restore by apply_id
// brings it back.
//
// What is wrong: record (journal.go) stamps each entry with the view's
// tags (tagsOn) before the chunk's last check; the last check then finds
// a planned tag gone (removed by its owner, or by a cleanup job, between
// the view's read, up to a minute old when the planning pass's read is
// reused, and the DELETE) and drops it from the view, and runChunk takes
// the tags "as last seen" for the report (w.removed); but the journaled
// entry keeps the stale list, and the second record (after the last
// check) only journals what is not journaled yet.
//
// Why it matters: registry_journal says the apply removed pr-2 with the
// image; registry_restore with that apply_id plans to point pr-2 at it
// again: a tag its owner removed on purpose, which the apply never took,
// comes back (the theme of reviews 58 and 59: a restore by apply_id
// undoes the apply, nothing else).
//
// Suggested fix: after the last check, journal again (a later entry of
// the same apply stands, as after a withdrawal) each step whose tags in
// the view differ from its entry's, before the DELETEs: the second
// record's pass is the place; or withdraw the entry and journal it anew.
//
// Reproduce: go test -count=1 -run TestReview60JournalListsATagRemovedBeforeTheDelete ./internal/registry
// (distribution v3 in process, and 2.8).

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview60JournalListsATagRemovedBeforeTheDelete(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review60/stale-tags"
		ctx := context.Background()
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		planned, err := reg.PushImage(repo, created, "pr-1", "pr-2")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		owner := newClient(t, Config{URL: reg.URL}) // another client, behind the apply's back
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 || !slices.Equal(batch.Manifests[0].Tags, []string{"pr-1", "pr-2"}) {
			t.Fatalf("planned %+v; want pr-1's and pr-2's image", batch.Manifests)
		}
		// pr-2's owner removes it as the apply stores its journal: after
		// the view's read, before the chunk's last check.
		var once sync.Once
		var removed atomic.Bool
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			if strings.HasPrefix(r.URL.Path, "/v2/"+JournalRepository+"/") {
				once.Do(func() {
					if err := owner.DeleteTag(context.Background(), repo, "pr-2"); err != nil {
						t.Errorf("removing pr-2: %v", err)
						return
					}
					removed.Store(true)
				})
			}
			return false
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nskipped %q\nwarnings %q\ndeleted %d", err, report.Skipped, report.Warnings, report.Deleted)
		if err != nil || !removed.Load() {
			t.Fatalf("the scenario did not run: pr-2 removed %v, apply: %v", removed.Load(), err)
		}
		mustExist(t, reg, repo, false, planned.Digest)
		records := journaledFor60(t, c, repo, planned.Digest.String())
		if len(records) != 1 {
			t.Fatalf("the journal holds %d record(s) of %s; want 1", len(records), planned.Digest)
		}
		if slices.Contains(records[0].Tags, "pr-2") {
			t.Errorf("the journal (registry_journal) lists %s as deleted with tags %q: pr-2 was removed by someone else before its DELETE, which took pr-1 only",
				planned.Digest, records[0].Tags)
		}
		restore, err := c.PlanRestore(ctx, RestoreSelection{ApplyID: records[0].ApplyID})
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range restore.Images {
			if img.Digest == planned.Digest.String() && slices.Contains(img.Tags, "pr-2") {
				t.Errorf("registry_restore with apply_id = %q plans to point pr-2 at %s again: its owner removed it, the apply did not", records[0].ApplyID, img.Digest)
			}
		}
	})
}
