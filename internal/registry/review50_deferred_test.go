package registry

// Review 50: the deferred final verification of a batch stopped between
// chunks (review 49's fix, executeBatch's lastVerified).
//
// TestReview50StoppedApplySaysItCouldNotCheckAfterChecking (reported): the
// verification after the first of two chunks fails to list the tags (a
// 500, retries exhausted); executeBatch returns that error wrapped by
// unverified ("The apply could not check what the registry serves after
// deleting N manifest(s). If a tag you keep went missing ...,
// registry_restore with apply_id = ... puts back what this apply
// deleted"), and then its deferred verify(last=true) does check, and
// succeeds: every staying tag is resolved, nothing was missing. The error
// still says it could not check and points the user at undoing the whole
// apply with registry_restore; the deferred check's success never reaches
// the message (executeBatch's defer changes err only when it fails). On
// distribution v3 (the message is the client's).
//
// Held (read, not tested): the deferred verify is registered after the
// defer that fills the outcome, so it runs first (LIFO) and its restores
// and losses reach the report; a deferred verify that fails turns the
// error into unverified's, never into success; a batch that finishes after
// a non-last verification (items skipped by it) still gets the final
// verification (lastVerified false); after judge, record or lastCheck
// fail, the view holds only what they read (tags gone from the listing
// dropped), and j.chunk is still the verified previous chunk's.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Regression test of review 50 (fixed).
func TestReview50StoppedApplySaysItCouldNotCheckAfterChecking(t *testing.T) {
	reg := testregistry.Start(t)
	const repo = "review50/deferred"
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	if _, err := reg.SeedTags(repo, chunkPerSlot+1, func(i int) string { return fmt.Sprintf("pr-%02d", i) }, func(int) time.Time { return created }); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage(repo, created, "stable"); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1, RetryMaxAttempts: 1})
	batch := planBatch(t, c, repo, deletePR())
	var deleted atomic.Bool
	var failed atomic.Int64
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete {
			deleted.Store(true)
		}
		if deleted.Load() && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/"+repo+"/tags/list") && failed.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	t.Logf("apply: %v\nrestored %q lost %q deleted %d", err, report.Restored, report.Lost, report.Deleted)
	if err == nil {
		t.Fatal("the apply stopped between chunks and reports no error")
	}
	if failed.Load() < 2 {
		t.Fatalf("the tag list was read %d time(s) after the first DELETE; want the failed one and the deferred verification's", failed.Load())
	}
	if strings.Contains(err.Error(), "could not check what the registry serves") {
		t.Errorf("the error says the apply could not check what the registry serves, though its final verification did (and found nothing missing): %v", err)
	}
}
