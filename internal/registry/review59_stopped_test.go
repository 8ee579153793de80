package registry

// Regression test of review 59 (fixed: executeBatch withdraws what it journaled when it stops between a chunk's first record and runChunk); failed before the fix.
//
// Review 59: a chunk's entries stored before its last check stay in the
// journal, as deleted by the apply, when the apply stops before the chunk
// runs.
//
// What is wrong: executeBatch (execute.go) stores the chunk's entries with
// the first record, before lastCheck; withdrawKept runs only after
// runChunk. When the apply stops in between (interrupted: lastCheck, the
// judge or the second record returns an error), executeBatch returns
// without withdrawing what it journaled, although it sent no DELETE. The
// commit's promise ("what the journal stored and the apply sent no DELETE
// for (the last look kept it, or the chunk stopped first) is withdrawn")
// does not hold for an apply stopped before runChunk.
//
// Consequence: registry_journal lists the image as deleted by the apply
// (with its tags) though the apply deleted nothing, and registry_restore
// with that apply_id plans to point the image's tags back, e.g. a tag the
// user removed since (review 58's false claim, through an interrupt).
//
// Suggested fix: withdraw the journaled-but-unsent steps on every return
// after the first record (a deferred withdrawKept over the chunk's
// journaled steps, with context.WithoutCancel), not only after runChunk.
//
// Reproduce: go test -count=1 -run TestReview59JournalKeepsEntriesOfAnApplyStoppedBeforeItsChunkRan ./internal/registry/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

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

func TestReview59JournalKeepsEntriesOfAnApplyStoppedBeforeItsChunkRan(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review59/stopped"
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
		// The apply is interrupted right after the chunk's journal is
		// stored: at the next request, the last check's.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var journaled, deletes atomic.Int32
		var once sync.Once
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.Method == http.MethodDelete:
				deletes.Add(1)
			case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/"+JournalRepository+"/manifests/"):
				journaled.Add(1)
			case journaled.Load() > 0 && !strings.HasPrefix(r.URL.Path, "/v2/"+JournalRepository+"/"):
				once.Do(cancel)
			}
			return false
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nwarnings %q\ndeleted %d", err, report.Warnings, report.Deleted)
		if err == nil || journaled.Load() == 0 {
			t.Fatalf("the apply was not interrupted after storing its journal (journal PUTs %d, apply: %v)", journaled.Load(), err)
		}
		if n := deletes.Load(); n != 0 {
			t.Fatalf("the apply sent %d DELETE(s); want none (stopped before its chunk ran)", n)
		}
		mustExist(t, reg, repo, true, planned.Digest)
		records, err := c.ReadJournal(context.Background(), JournalFilter{Repository: repo})
		if err != nil {
			t.Fatal(err)
		}
		apply := ""
		for _, r := range records {
			if r.Digest == planned.Digest.String() {
				apply = r.ApplyID
				t.Errorf("the journal (registry_journal) lists %s as deleted by apply %s, with tags %q: the apply sent no DELETE", r.Digest, r.ApplyID, r.Tags)
			}
		}
		if apply == "" {
			return
		}
		// pr-1 is removed later by its owner; a restore of what the
		// interrupted apply deleted (nothing) must not bring it back.
		if err := c.DeleteTag(context.Background(), repo, "pr-1"); err != nil {
			t.Fatal(err)
		}
		restore, err := c.PlanRestore(context.Background(), RestoreSelection{ApplyID: apply})
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range restore.Images {
			if slices.Contains(img.Tags, "pr-1") {
				t.Errorf("registry_restore with apply_id = %q plans to point pr-1 at %s again: that apply deleted nothing", apply, img.Digest)
			}
		}
	})
}
