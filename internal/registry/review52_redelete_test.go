package registry

// Regression test of review 52 (fixed: repairDangling deletes again with the next chunk, between its last check and its verification); failed before the fix.

// Review 52: repairDangling's "deleted again" (239ab13, repair.go
// tryCandidates).
//
// TestReview52RepairDeletesAgainWithoutVerifying (reported): a new tag
// "new" is pushed onto planned image X as the registry deletes it (left
// dangling, the registry API's window). Verification after the chunk
// (here the last one) finds it dangling and repairs it: tryCandidates puts
// back every manifest the chunk deleted (X and planned image Y), resolves
// "new" (now on X), keeps X, and DELETEs Y again. Between Y's put-back and
// its second DELETE, the view is not read again: the listing and the
// resolution of every staying tag happened at the start of verify, before
// the put-backs. A kept tag ("stable") moved onto Y while Y is back (a
// rollback push of Y's image under "stable") is taken by the second
// DELETE (distribution v3 and 2.8 remove every tag on a deleted manifest),
// and no verification follows: the apply returns success, nothing lost,
// and "stable" no longer exists. The Safety guide promises that a kept tag
// moved onto a planned digest in the instant of its DELETE "comes back
// where it pointed before (the move is lost, the tag is not)"; here the
// move landed long before the second DELETE (during the resolution of the
// dangling tag and neededBack), and the tag is lost. Cause: repair.go
// tryCandidates' last loop ("for _, d := range slices.Backward(back)")
// DELETEs without journaling the deletion in the chunk (deleteJournaled)
// and without a verification after it (verify's last call has run).
//
// Reproduce: REVIEW52_UNSKIP=1 go test -count=1 -run TestReview52RepairDeletesAgainWithoutVerifying ./internal/registry/
// (distribution v3 in process and 2.8).

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview52RepairDeletesAgainWithoutVerifying(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review52/redelete"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		y, err := reg.PushImage(repo, created, "pr-2")
		if err != nil {
			t.Fatal(err)
		}
		stable, err := reg.PushImage(repo, created, "stable")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 2 {
			t.Fatalf("planned %+v; want pr-1's and pr-2's images", batch.Manifests)
		}
		var mu sync.Mutex
		xDeleted, yPutBack, yDeletes := false, false, 0
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, y.Digest.String()):
				yDeletes++
				return false
			case r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, x.Digest.String()) && !xDeleted:
				xDeleted = true
				req, _ := http.NewRequest(http.MethodDelete, reg.URL+r.URL.Path, nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					w.WriteHeader(http.StatusInternalServerError)
					return true
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				linkTag50(t, reg, repo, "new", x.Digest) // the push's tag link, landing after the DELETE
				w.WriteHeader(resp.StatusCode)
				return true
			case r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+y.Digest.String()) && !yPutBack && yDeletes == 1:
				yPutBack = true
				req, _ := http.NewRequest(http.MethodPut, reg.URL+r.URL.Path, r.Body)
				req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					w.WriteHeader(http.StatusInternalServerError)
					return true
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				// Y is back: someone rolls "stable" back to Y's image.
				if err := reg.Tag(repo, y.Digest, "stable"); err != nil {
					t.Error(err)
				}
				w.WriteHeader(resp.StatusCode)
				return true
			}
			return false
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Deleted)
		if !xDeleted || !yPutBack {
			t.Fatalf("the race did not run (X deleted %v, Y put back %v); the repair changed", xDeleted, yPutBack)
		}
		if err != nil || len(report.Lost) > 0 {
			return // reported, not silent
		}
		got := resolvesTo(t, reg, repo, "stable")
		if got == stable.Digest.String() || got == y.Digest.String() {
			return
		}
		listed, _ := reg.Tags(repo)
		t.Fatalf("apply succeeded, nothing lost; stable resolves to %s, want %s or %s (Y deleted %d times; listed now: %q)", got, stable.Digest, y.Digest, yDeletes, listed)
	})
}
