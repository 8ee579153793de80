package registry

// Regression test of review 55 (fixed: restoreTag returns pushedAgain's failed read, and verify stops the apply after putting back the other missing tags); failed before the fix.

// Review 55: a read that fails while verify repairs a missing kept tag
// (pushedAgain, review 54's fix) does not stop the apply: it goes on to
// delete the rest of the plan, chunk after chunk, and reports the tag lost
// at the end. The Safety guide says "A read that fails during repair is no
// answer: what was put back stays, and the apply stops as unable to check".
//
// What is wrong: restoreTag (repair.go) turns pushedAgain's error into a
// note in j.lost and returns nothing; verify has no error to return, so
// executeBatch starts the next chunk as if verification had succeeded.
// Every other failed read of verify (the listing, resolveInto,
// undoMovedAway, neededBack, repairDangling's) stops the apply with
// unverified's "could not check" error naming its apply_id.
//
// User-visible consequence: with the registry failing reads, and a kept
// tag whose whereabouts the apply could not read, the apply carries on
// deleting every remaining chunk of the plan (here the 17th planned
// image, after the chunk whose verification failed to read), and then
// fails with "Lost during the apply" (push it again) instead of "could not
// check" with the apply_id to restore from.
//
// Reproduce: REVIEW55_UNSKIP=1 go test -count=1 -run TestReview55FailedRepairReadDoesNotStopTheApply ./internal/registry/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview55FailedRepairReadDoesNotStopTheApply(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review55/repair-read-fails"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		for i := range chunkPerSlot + 1 { // two chunks at max_concurrency 1
			if _, err := reg.PushImage(repo, created, fmt.Sprintf("pr-%02d", i)); err != nil {
				t.Fatal(err)
			}
		}
		for _, tag := range []string{"stable", "v1"} {
			if _, err := reg.PushImage(repo, created, tag); err != nil {
				t.Fatal(err)
			}
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1, RetryMaxAttempts: 1, RetryMaxElapsed: time.Second})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != chunkPerSlot+1 {
			t.Fatalf("planned %d manifests; want %d", len(batch.Manifests), chunkPerSlot+1)
		}
		var deleted, listedAfter, failing atomic.Bool
		var failed, deletesAfter atomic.Int32
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.Method == http.MethodDelete && failed.Load() > 0:
				deletesAfter.Add(1)
			case r.Method == http.MethodDelete && !deleted.Load():
				// stable is removed as the first chunk runs (someone
				// about to push it again)
				if err := os.RemoveAll(filepath.Join(reg.RootDir, "docker/registry/v2/repositories", repo, "_manifests/tags/stable")); err != nil {
					t.Error(err)
				}
				deleted.Store(true)
			case r.URL.Path == "/v2/"+repo+"/tags/list" && deleted.Load():
				// verify's listing (stable missing) starts the failing
				// reads of stable; the next listing, the next chunk's, ends them
				failing.Store(!listedAfter.Load())
				listedAfter.Store(true)
			case strings.HasSuffix(r.URL.Path, "/manifests/stable") && r.Method != http.MethodPut && failing.Load():
				failed.Add(1) // pushedAgain's read: 503 for as long as the transport retries
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nlost %q\ndeleted %d", err, report.Lost, report.Deleted)
		if failed.Load() == 0 {
			t.Fatal("the hooks did not run: no read of stable failed")
		}
		if n := deletesAfter.Load(); n > 0 {
			t.Errorf("after verify failed to read where the missing kept tag stable points, the apply sent %d more DELETE(s) "+
				"(the next chunk) instead of stopping as unable to check", n)
		}
	})
}
