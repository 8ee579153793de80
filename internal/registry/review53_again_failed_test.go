package registry

// Regression test of review 53 (fixed: a manifest put back counts as deleted
// only once a new DELETE of it is confirmed, unmarkDeleted dropping its first
// confirmation; deleteAgain leaves what it did not delete again queued, so
// the stopped apply's warning names it); failed before the fix. Review 53: a
// failed "delete again" (2db6ae4, execute.go deleteAgain) is reported as
// done, and what it had still to delete is dropped silently.
//
// TestReview53FailedDeleteAgainReportedDone (reported): a new tag "new" is
// pushed onto planned image X as the registry deletes it (the registry
// API's window). The chunk's verification repairs it (repairDangling →
// tryCandidates): it puts back every manifest the chunk deleted (X, and
// planned images Y1 and Y2), finds "new" on X, keeps X, and queues Y1
// and Y2 to be deleted again with the next chunk (queueDeleteAgain,
// after unmarkDeleted). That next runChunk calls deleteAgain, which takes
// the whole queue (j.takeAgain) and DELETEs one at a time; the registry
// refuses the first (a 503 here, beyond the transport's retries: an
// overloaded registry, a proxy in front of it). deleteAgain returns the
// error at once:
//   - the refused manifest was marked deleted again (deleteJournaled's
//     markDeleted runs before the request), and the journal still holds
//     "confirmed" (j.done) from its FIRST deletion, which tryCandidates
//     never cleared. So journal.countDeleted and journal.performed count
//     it: Report.Deleted and Report.Performed (the state's `applied`,
//     the error's "Done before it stopped: N manifest(s) deleted", and
//     what replicas follow) say it was deleted, while the registry serves
//     it, put back, untagged;
//   - the manifests after it in the queue are neither deleted nor put
//     back in the queue: executeBatch's deferred takeAgain finds the queue
//     empty, and the warning the Safety guide promises ("an apply that
//     stops first leaves it, and says so") is never given.
// Both stay in the registry untagged: the next plan does not list them
// (a policy deletes tagged images), though the apply's error says "the
// next plan shows what is left". Cause: execute.go deleteAgain (takes the
// queue before deleting, returns on the first error) and journal.go
// countDeleted/performed trusting j.done, which repair.go tryCandidates
// leaves set when it puts a manifest back (unmarkDeleted clears
// j.deleted only).
//
// Reproduce: REVIEW53_UNSKIP=1 go test -count=1 -run TestReview53FailedDeleteAgainReportedDone ./internal/registry/
// (distribution v3 in process and 2.8).

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview53FailedDeleteAgainReportedDone(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review53/again-failed"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		var ys []v1.Hash
		for _, tag := range []string{"pr-2", "pr-3"} {
			y, err := reg.PushImage(repo, created, tag)
			if err != nil {
				t.Fatal(err)
			}
			ys = append(ys, y.Digest)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1, RetryMaxAttempts: 1})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 3 {
			t.Fatalf("planned %+v; want pr-1's, pr-2's and pr-3's images", batch.Manifests)
		}
		var mu sync.Mutex
		deletes := map[string]int{}
		refused := ""
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodDelete || !strings.Contains(r.URL.Path, "/"+repo+"/manifests/") {
				return false
			}
			digest := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
			mu.Lock()
			defer mu.Unlock()
			deletes[digest]++
			switch {
			case digest == x.Digest.String() && deletes[digest] == 1:
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
			case digest != x.Digest.String() && deletes[digest] == 2 && refused == "": // the first DELETE again
				refused = digest
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\nskipped %q\ndeleted %d performed %v", err, report.Restored, report.Lost, report.Warnings, report.Skipped, report.Deleted, report.Performed[repo].Digests)
		if refused == "" {
			t.Fatalf("no DELETE again was sent (deletes %v): the repair changed", deletes)
		}
		tagIs(t, reg, repo, "new", x.Digest) // the repair itself: holds
		gone := 0
		for _, d := range append([]v1.Hash{x.Digest}, ys...) {
			exists, err := reg.ManifestExists(repo, d)
			if err != nil {
				t.Fatal(err)
			}
			if !exists {
				gone++
				continue
			}
			if report.Performed[repo].Digests[d.String()] {
				t.Errorf("%s is reported deleted (Performed) and the registry serves it (refused DELETE: %s)", d, refused)
			}
			if d != x.Digest && !strings.Contains(strings.Join(report.Warnings, "\n"), d.String()) {
				t.Errorf("%s, planned and put back by the repair, is left in the registry and no warning names it (refused DELETE: %s)", d, refused)
			}
		}
		if report.Deleted != gone {
			t.Errorf("report says %d manifest(s) deleted; %d of the planned are gone", report.Deleted, gone)
		}
	})
}
