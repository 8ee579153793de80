package registry

// Regression test of review 60 (fixed: journal.restoreAdvice names registry_restore only where the journal was stored in the registry); failed before the fix.
//
// Review 60: an apply whose verification could not read the registry
// tells the user that registry_restore with its apply_id puts back what it
// deleted, when its journal could not be stored in the registry.
//
// What is wrong: unverified (execute.go) always says "registry_restore
// with apply_id = ... puts back what this apply deleted", without asking
// the journal whether it was stored (journal.storeFailed). Where the
// credentials may delete but not push to the journal's repository (a
// common split: a cleanup robot without push rights), the apply deletes
// with a warning that the journal is not stored, and when verification
// then cannot read the registry, the error's advice is false:
// registry_restore answers "the journal holds no deletion of apply ...".
// Review 58 removed the same false advice from unreadTag (ee149b0).
//
// Why it matters: the one instruction the user gets for putting back a
// kept tag the DELETEs may have taken does not work, and the real
// remedy (the journal file in cache_dir, if any, or nothing) goes unsaid
// in the error: the time until garbage collection is spent on it.
//
// Suggested fix: word unverified as whereKept does: name registry_restore
// only when every chunk of the repository was stored in the registry;
// otherwise the journal file (cache_dir) or that nothing is left to put
// back from once the apply ends.
//
// Reproduce: go test -count=1 -run TestReview60UnverifiedAdvisesARestoreFromAJournalNotStored ./internal/registry
// (distribution v3 in process, and 2.8).

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview60UnverifiedAdvisesARestoreFromAJournalNotStored(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review60/advice"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		planned, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 1})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 {
			t.Fatalf("planned %+v; want pr-1's image", batch.Manifests)
		}
		// The credentials may not push to the journal's repository; after
		// the DELETE, the registry cannot be read (verification fails).
		var deleted atomic.Bool
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case strings.HasPrefix(r.URL.Path, "/v2/"+JournalRepository+"/"):
				deny60(w)
				return true
			case r.Method == http.MethodDelete:
				deleted.Store(true)
			case deleted.Load() && r.URL.Path == "/v2/"+repo+"/tags/list":
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nwarnings %q", err, report.Warnings)
		if err == nil || !deleted.Load() {
			t.Fatalf("the scenario did not run: DELETE sent %v, apply: %v", deleted.Load(), err)
		}
		mustExist(t, reg, repo, false, planned.Digest)
		if !slices.ContainsFunc(report.Warnings, func(w string) bool { return strings.Contains(w, "could not be stored in the registry") }) {
			t.Fatalf("no warning says the journal was not stored: %q", report.Warnings)
		}
		if ids := applyIDs60(t, newClient(t, Config{URL: reg.URL})); len(ids) != 0 {
			t.Fatalf("the journal holds applies %q; want none (it could not be stored)", ids)
		}
		if strings.Contains(err.Error(), "registry_restore with apply_id") {
			t.Errorf("the apply's error advises registry_restore with its apply_id, whose journal could not be stored (it holds nothing of this apply): %v", err)
		}
	})
}
