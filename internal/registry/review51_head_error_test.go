package registry

// Regression test of review 51 (fixed): the tests below failed before the
// fix (repair.go: repairDangling puts back children first and keeps what
// the repaired tags need, a failed read is no answer, suspects come back
// with their referrer tags; execute.go: fewStaying bounds dangling tags on
// their own). Review 51: a registry error read as an answer during repair (repair.go
// restoreTag, repairDangling): two tests below.
//
// TestReview51KeptTagNotPutBackAfterAFailedHead (reported): "stable" is
// moved onto pr-1's image X in the registry API's window, just before the
// apply's DELETE of X, which takes it along. Verification finds stable
// gone and calls restoreTag, which puts back X untagged and then asks
// whether stable's own image S still exists (Exists, a HEAD by digest),
// since the apply did not journal S. That HEAD fails (a 500 here, retries
// exhausted; a timeout answers the same). restoreTag treats the error as
// "S is gone" (`if err != nil || !exists`): a warning "tag app:stable
// went during the apply with S, which this apply did not delete: left as
// it is", no loss, no error. The apply succeeds, S is still in the
// registry, and the kept tag stable no longer exists. The Safety guide:
// "A kept tag that went with a DELETE is put back where it pointed when
// last read"; a read that failed is not an answer (elsewhere, an error
// reading the registry stops the apply as "could not check"). On
// distribution v3 and 2.8.
//
// Reproduce: REVIEW51_UNSKIP=1 go test -count=1 -run 'TestReview51KeptTagNotPutBack|TestReview51DanglingRepairGivesUp' ./internal/registry/

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview51KeptTagNotPutBackAfterAFailedHead(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review51/head-error"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		s, err := reg.PushImage(repo, created, "stable")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 1})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 {
			t.Fatalf("planned %+v; want pr-1's image", batch.Manifests)
		}
		var once sync.Once
		var moved atomic.Bool
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, x.Digest.String()):
				once.Do(func() { // the registry API's window: stable moved onto X just before its DELETE
					if err := reg.Tag(repo, x.Digest, "stable"); err != nil {
						t.Error(err)
					}
					moved.Store(true)
				})
			case moved.Load() && r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/manifests/"+s.Digest.String()):
				w.WriteHeader(http.StatusInternalServerError)
				return true
			}
			return false
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q", err, report.Restored, report.Lost, report.Warnings)
		if !moved.Load() {
			t.Fatal("the race did not run")
		}
		if err != nil || len(report.Lost) > 0 {
			return // reported, not silent
		}
		if got := resolvesTo(t, reg, repo, "stable"); got != s.Digest.String() && got != x.Digest.String() {
			existsNow, _ := reg.ManifestExists(repo, s.Digest)
			t.Fatalf("apply succeeded, nothing lost; stable resolves to %s (want %s, its image, which exists: %v)", got, s.Digest, existsNow)
		}
	})
}

// TestReview51DanglingRepairGivesUpOnAFailedHead (reported): review 50's
// repaired case (a new tag "rel" pushed onto pr-1's image X lands as the
// registry handles X's DELETE: listed, resolving to nothing), with one
// registry error: repairDangling puts X back and asks where rel points
// (a HEAD); that HEAD fails (a 500, retries exhausted). repairDangling
// reads the error as "not X" (`err == nil && m.Digest == d`), deletes X
// again, and ends with the warning "appeared during the apply and
// resolves to no manifest: left as it is". Nothing is lost, the apply
// succeeds, and the kept tag rel resolves to nothing: X was deleted again
// by the repair that had just brought it back. On distribution v3 and 2.8.
func TestReview51DanglingRepairGivesUpOnAFailedHead(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review51/dangling-head-error"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
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
		pushDuringDelete(t, proxy, reg, repo, "rel", x.Digest)
		race := proxy.currentFault()
		var heads atomic.Int64
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/manifests/rel") && heads.Add(1) == 2 {
				w.WriteHeader(http.StatusInternalServerError) // the repair's look, after X was put back
				return true
			}
			return race(w, r)
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\nHEADs of rel: %d", err, report.Restored, report.Lost, report.Warnings, heads.Load())
		if err != nil || len(report.Lost) > 0 {
			return // reported, not silent
		}
		if got := resolvesTo(t, reg, repo, "rel"); got != x.Digest.String() {
			t.Fatalf("apply succeeded, nothing lost; rel resolves to %s (want X %s)", got, x.Digest)
		}
	})
}
