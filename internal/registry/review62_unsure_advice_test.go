package registry

// Regression test of review 62 (fixed: restoreAdvice names registry_restore when a chunk's PUT got no answer and may have landed (putUnsure)); failed before the fix.
//
// Review 62: after the journal's chunk PUT lost its answer (stored by the
// registry all the same), the apply says registry_restore cannot put its
// deletions back, and that they are journaled nowhere; a restore with its
// apply_id finds them.
//
// What is wrong: restoreAdvice (journal.go) reads noStore and putChunks
// only: a PUT whose answer was lost sets putUnsure (storeJournal), which
// the review 60 fix uses to keep storing withdrawals because the chunk
// "may have landed", but restoreAdvice ignores it and, with putChunks at
// 0, says "the journal could not be stored in the registry, so
// registry_restore cannot put it back", then (cache_dir off) "journaled
// nowhere but in this apply's memory ... no journal is left to put them
// back from".
//
// Why it matters: this is the unverified case (the apply could not check
// the registry after deleting): a kept tag may be missing, and the user
// is told the only way back is gone and to push the tag again (an image
// they may no longer have), while registry_restore with the apply_id
// would put it back.
//
// Suggested fix: when putUnsure, advise registry_restore with apply_id as
// worth trying (the chunk may be stored: registry_journal shows whether),
// before whereKept's fallback; never say "cannot" for a store whose
// outcome is unknown.
//
// Reproduce: go test -count=1 -run TestReview62AdviceSaysRestoreCannotWorkAfterALostStoreAnswer ./internal/registry
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

func TestReview62AdviceSaysRestoreCannotWorkAfterALostStoreAnswer(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review62/unsure-advice"
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
		c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 1}) // no cache_dir: no journal file
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 {
			t.Fatalf("planned %+v; want pr-1's image", batch.Manifests)
		}
		// The journal chunk's manifest PUT reaches the registry, which
		// stores it; its answer is lost. After the DELETE, the registry
		// cannot be read (verification fails).
		var landed, deleted atomic.Bool
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/"+JournalRepository+"/manifests/") && !landed.Load():
				body, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("reading the journal PUT: %v", err)
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
					t.Errorf("forwarding the journal PUT: %v", err)
					return false
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					t.Errorf("the registry answered the journal PUT %s", resp.Status)
				}
				landed.Store(true)
				dropConnection(w)
				return true
			case r.Method == http.MethodDelete:
				deleted.Store(true)
			case deleted.Load() && strings.HasPrefix(r.URL.Path, "/v2/"+repo+"/"):
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nwarnings %q\nlost %q\ndeleted %d", err, report.Restored, report.Warnings, report.Lost, report.Deleted)
		proxy.setFault(nil)
		if !landed.Load() || !deleted.Load() || err == nil {
			t.Fatalf("the scenario did not run: journal stored %v, DELETE sent %v, apply: %v", landed.Load(), deleted.Load(), err)
		}
		mustExist(t, reg, repo, false, planned.Digest)
		ids := applyIDs60(t, c)
		if len(ids) != 1 {
			t.Fatalf("the journal names applies %q; want one", ids)
		}
		restore, perr := c.PlanRestore(ctx, RestoreSelection{ApplyID: ids[0]})
		restorable := perr == nil && slices.ContainsFunc(restore.Images, func(img RestoreImage) bool { return img.Digest == planned.Digest.String() })
		if !restorable {
			t.Fatalf("registry_restore with apply_id = %q plans %+v, %v: the scenario did not store the chunk", ids[0], restore.Images, perr)
		}
		if msg := err.Error(); strings.Contains(msg, "registry_restore cannot put it back") || !strings.Contains(msg, ids[0]) {
			t.Errorf("the apply's error says registry_restore cannot put back what it deleted (or does not name apply_id %q), "+
				"yet registry_restore with that apply_id plans %s (pr-1) back: %v", ids[0], planned.Digest, err)
		}
	})
}
