package registry

// Regression test of review 51 (fixed): the losses of an apply stopped by
// another error are named. lostError (deletion.go) now returns a LostError
// naming both what stopped the apply and what was lost, and the provider
// shows each of Report.Lost as an error of its own (reportLost in
// resource_retention_policy.go, for the primary and its replicas).
//
// The report: a loss found by the verification of an apply that stops on
// another error (execute.go ExecuteBatches, deletion.go lostError).
//
// TestReview51LossOfAStoppedApplyIsNotNamed: a chunk of two
// planned images (max_concurrency 1: one after the other). "stable"
// (kept) is moved onto the first in the registry API's window, just
// before its DELETE, which takes it along; the second DELETE fails (a
// 500, retries exhausted). The chunk stops, and its verification (the
// last: the apply stops) finds stable gone and tries to put it back, but
// the registry refuses the PUT (a 500 here; credentials that may delete
// but not push answer 403 alike): a loss, in Report.Lost. ExecuteBatches
// returns lostError(lost, err), which names the losses only when err is
// nil: here err is the failed DELETE, so the error says "the registry
// failed with 500 ... deleting ..." and nothing of stable. The provider
// prints that error and the report's skipped items, warnings and
// restores, never Report.Lost (resource_retention_policy.go apply): the
// user is told a DELETE failed and "Nothing else was deleted; the next
// plan shows what is left", and never that the kept tag stable is gone.
// The Safety guide: "A restore that fails ... is a loss and fails the
// apply, naming it". On distribution v3.
//
// Run: go test -count=1 -run TestReview51LossOfAStoppedApply ./internal/registry/

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview51LossOfAStoppedApplyIsNotNamed(t *testing.T) {
	reg := testregistry.Start(t)
	const repo = "review51/lost-unnamed"
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	for _, tag := range []string{"pr-1", "pr-2"} {
		if _, err := reg.PushImage(repo, created, tag); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.PushImage(repo, created, "stable"); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1, RetryMaxAttempts: 1})
	batch := planBatch(t, c, repo, deletePR())
	if len(batch.Manifests) != 2 {
		t.Fatalf("planned %+v; want pr-1's and pr-2's images", batch.Manifests)
	}
	var mu sync.Mutex
	deletes := 0
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/"+repo+"/manifests/sha256:"):
			deletes++
			if deletes == 1 { // the registry API's window: stable moved onto the first image deleted
				d := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
				if err := reg.Tag(repo, mustHash(t, d), "stable"); err != nil {
					t.Error(err)
				}
				return false
			}
			w.WriteHeader(http.StatusInternalServerError)
			return true
		case deletes > 0 && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/"+repo+"/manifests/"):
			w.WriteHeader(http.StatusInternalServerError) // the put-back refused
			return true
		}
		return false
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q", err, report.Restored, report.Lost, report.Warnings)
	if len(report.Lost) == 0 {
		t.Fatalf("nothing lost; want stable's put-back refused (apply: %v)", err)
	}
	if err == nil {
		t.Fatal("the apply succeeded")
	}
	if !strings.Contains(err.Error(), "stable") {
		t.Fatalf("the apply's error does not name the loss of stable: %v", err)
	}
}
