package registry

// Regression test of review 51 (fixed): the tests below failed before the
// fix (repair.go: repairDangling puts back children first and keeps what
// the repaired tags need, a failed read is no answer, suspects come back
// with their referrer tags; execute.go: fewStaying bounds dangling tags on
// their own). Review 51: a put-back the registry refuses, after a HEAD that answers
// from distribution's stale descriptor cache (repair.go restore/putBack).
//
// TestReview51RefusedPutBackTrustedToAStaleHead (reported): review 45's
// race (the kept tag "stable" moved onto pr-1's image X while the
// registry handles the apply's DELETE of X; the PUT that moved it leaves
// X's descriptor in the registry's blob descriptor cache, and the
// revision link is then deleted), with the registry refusing the one
// write that would bring X back: the PUT of X's bytes by digest fails
// (a 500 here, retries exhausted; a timeout, a full disk or a quota
// answer the same). Verification finds stable gone, puts it back on its
// old image and puts back what the chunk deleted, untagged, since stable
// may have been moved onto it: X. putBack's HEAD answers 200 from the
// stale cache, so restore takes the refused write for "the registry
// answers that it is there (pushed again since this apply deleted it)":
// a warning, not a loss; X is unmarked as deleted, restore returns true,
// and the "Put back during the apply" line of stable says "the 1
// manifest(s) deleted with it put back untagged (X)". The apply
// succeeds. X's storage has no link: the registry restarted (or any other
// instance, or garbage collection) does not have it. The Safety guide:
// "A restore that fails (blobs already freed by GC, the registry refusing
// the push) is a loss and fails the apply, naming it"; putBack's own
// comment says a HEAD 200 cannot be trusted, yet a refused write is
// trusted to it. Distribution v3 over its filesystem driver, hooked as in
// review 45 (2.8's storage cannot be wrapped from a test; same code).
//
// Reproduce: REVIEW51_UNSKIP=1 go test -count=1 -run TestReview51RefusedPutBack ./internal/registry/

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview51RefusedPutBackTrustedToAStaleHead(t *testing.T) {
	dir := t.TempDir()
	var reg *testregistry.Registry
	var xHex string
	var once sync.Once
	reg = startHooked45(t, dir, func(path string) {
		if xHex != "" && strings.Contains(path, "/_manifests/revisions/sha256/"+xHex) {
			once.Do(func() { // the link not yet deleted, the cache already cleared
				if err := reg.Tag("app", mustHash(t, "sha256:"+xHex), "stable"); err != nil {
					t.Error(err)
				}
			})
		}
	})
	x, err := reg.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage("app", time.Time{}, "stable"); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 1})
	batch := planPolicy(t, c, "app", "^pr-")
	xHex = strings.TrimPrefix(x.Digest.String(), "sha256:")
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+x.Digest.String()) {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q", err, report.Restored, report.Lost, report.Warnings)
	if err != nil || len(report.Lost) > 0 {
		return // the refused write is reported
	}
	restarted := testregistry.Start(t, testregistry.WithRootDir(dir)) // the same storage, a fresh process's cache
	stored, err := restarted.ManifestExists("app", x.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !stored {
		t.Fatalf("apply succeeded with nothing lost, but X %s is not in the registry's storage", x.Digest)
	}
}
