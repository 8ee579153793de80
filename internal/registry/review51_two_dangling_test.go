package registry

// Regression test of review 51 (fixed): the tests below failed before the
// fix (repair.go: repairDangling puts back children first and keeps what
// the repaired tags need, a failed read is no answer, suspects come back
// with their referrer tags; execute.go: fewStaying bounds dangling tags on
// their own). Review 51: two new tags left dangling by one chunk (repairDangling's
// "deleted again").
//
// TestReview51SecondDanglingTagRemovedByTheFirstsRepair (reported): two
// planned images X1 (pr-1) and X2 (pr-2) go in one chunk (max_concurrency
// 1: one after the other). Two new tags are pushed in the registry API's
// window, each landing as the registry handles a DELETE (left dangling):
// "b" onto the first digest deleted, "a" onto the second. Verification
// finds both dangling and repairs them in listing order. For "a",
// repairDangling puts back each manifest the chunk deleted in turn and
// deletes again the ones "a" does not resolve to: the first is the one
// "b" points at. While it is back, "b" resolves to it, and its DELETE
// again removes every tag on the digest (distribution v3 and 2.8 untag
// what a deleted manifest carried): "b" is gone from the registry. Then
// "a" is repaired. For "b", repairDangling puts the first manifest back,
// "b" resolves to nothing (no longer exists), it is deleted a third time,
// and the apply warns "tag b appeared during the apply and resolves to no
// manifest: left as it is": not left as it is, removed by the apply's own
// repair. Nothing counts as lost, the apply succeeds, and a kept tag
// (pushed after the plan) no longer exists. One dangling tag (held,
// review 50's "new-name") is repaired.
//
// Reproduce: REVIEW51_UNSKIP=1 go test -count=1 -run TestReview51SecondDangling ./internal/registry/
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

func TestReview51SecondDanglingTagRemovedByTheFirstsRepair(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review51/two-dangling"
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
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 2 {
			t.Fatalf("planned %+v; want pr-1's and pr-2's images", batch.Manifests)
		}
		var mu sync.Mutex
		deleted := map[string]string{} // tag -> digest it was pushed onto
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodDelete || !strings.Contains(r.URL.Path, "/manifests/sha256:") {
				return false
			}
			mu.Lock()
			defer mu.Unlock()
			tag := map[int]string{0: "b", 1: "a"}[len(deleted)]
			if tag == "" {
				return false
			}
			req, _ := http.NewRequest(http.MethodDelete, reg.URL+r.URL.Path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				w.WriteHeader(http.StatusInternalServerError)
				return true
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			digest := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
			deleted[tag] = digest
			linkTag50(t, reg, repo, tag, mustHash(t, digest)) // the push's tag link, landing after the DELETE
			w.WriteHeader(resp.StatusCode)
			return true
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Deleted)
		if len(deleted) != 2 {
			t.Fatalf("the race ran on %d DELETE(s); want 2", len(deleted))
		}
		if err != nil || len(report.Lost) > 0 {
			return // reported, not silent
		}
		var wrong []string
		for _, tag := range []string{"a", "b"} {
			if got := resolvesTo(t, reg, repo, tag); got != deleted[tag] {
				wrong = append(wrong, tag+" resolves to "+got+", want "+deleted[tag])
			}
		}
		if len(wrong) > 0 {
			listed, _ := reg.Tags(repo)
			t.Fatalf("apply succeeded, nothing lost; %s (listed now: %q)", strings.Join(wrong, "; "), listed)
		}
	})
}
