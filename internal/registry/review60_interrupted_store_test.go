package registry

// Regression test of review 60 (fixed: a chunk whose manifest PUT failed may have been stored: withdrawals are still stored after it (putUnsure, skipStore)); failed before the fix.
//
// Review 60: an apply interrupted while its chunk's journal is being
// stored leaves the chunk's entries in the journal as deleted: the
// withdrawal that review 59 added is never stored.
//
// What is wrong: storeJournal (journal.go) runs under the apply's context;
// interrupted (Ctrl-C, Terraform stopping the provider, another
// repository's batch failing: ExecuteBatches' errgroup context) during
// the chunk manifest's PUT, it returns an error and journal.failed sets
// noStore, although the registry may have stored the chunk already (the
// PUT was sent; only its answer was not awaited). The apply then stops at
// the last check and unsent (executeBatch) withdraws what it journaled:
// withdrawKept calls addToJournal under context.WithoutCancel, but
// storeJournal returns at once (storeFailed: "failed before in this
// apply"), so the withdrawal is stored nowhere in the registry.
//
// Why it matters: review 59's defect, through the moment of the stop: the
// apply sent no DELETE, yet registry_journal lists the image as deleted
// by it, with its tags, and registry_restore with that apply_id points
// them back (a tag its owner removed since comes back).
//
// Suggested fix: a store whose outcome is unknown (interrupted, answer
// lost) is not a refusal: do not set noStore for it (KindInterrupted,
// KindUnavailable), and store withdrawals (Kept) whenever an earlier
// chunk of the repository may have been stored, under WithoutCancel;
// or store the chunk itself under WithoutCancel (bounded by
// request_timeout), so that an interrupt lands before or after it.
//
// Reproduce: go test -count=1 -run TestReview60JournalKeepsEntriesOfAnApplyInterruptedWhileStoringThem ./internal/registry
// (distribution v3 in process, and 2.8).

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview60JournalKeepsEntriesOfAnApplyInterruptedWhileStoringThem(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review60/interrupted"
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
		// The chunk's manifest PUT reaches the registry, which stores it;
		// the apply is interrupted before the answer comes back.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var chunkPuts, deletes atomic.Int32
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.Method == http.MethodDelete:
				deletes.Add(1)
				return false
			case r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/v2/"+JournalRepository+"/manifests/"):
				return false
			case chunkPuts.Add(1) > 1:
				return false
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				t.Error(err)
				return false
			}
			req, err := http.NewRequest(http.MethodPut, reg.URL+r.URL.Path, bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return false
			}
			req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return false
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("storing the chunk behind the proxy: %s", resp.Status)
			}
			cancel() // interrupted with the chunk stored, its answer not yet back
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return true
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nwarnings %q\ndeleted %d", err, report.Warnings, report.Deleted)
		if err == nil || chunkPuts.Load() == 0 {
			t.Fatalf("the apply was not interrupted while storing its journal (chunk PUTs %d, apply: %v)", chunkPuts.Load(), err)
		}
		if n := deletes.Load(); n != 0 {
			t.Fatalf("the apply sent %d DELETE(s); want none (stopped before its chunk ran)", n)
		}
		mustExist(t, reg, repo, true, planned.Digest)
		records := journaledFor60(t, c, repo, planned.Digest.String())
		for _, r := range records {
			t.Errorf("the journal (registry_journal) lists %s as deleted by apply %s, with tags %q: the apply sent no DELETE", r.Digest, r.ApplyID, r.Tags)
		}
		if len(records) == 0 {
			return
		}
		// pr-1 is removed later by its owner; a restore of what the
		// interrupted apply deleted (nothing) must not bring it back.
		if err := c.DeleteTag(context.Background(), repo, "pr-1"); err != nil {
			t.Fatal(err)
		}
		restore, err := c.PlanRestore(context.Background(), RestoreSelection{ApplyID: records[0].ApplyID})
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range restore.Images {
			if slices.Contains(img.Tags, "pr-1") {
				t.Errorf("registry_restore with apply_id = %q plans to point pr-1 at %s again: that apply deleted nothing", records[0].ApplyID, img.Digest)
			}
		}
	})
}
