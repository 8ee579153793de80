package registry

// Regression test of review 56 (fixed: a failed read of the kept image in restoreTag stops the apply too, unreadTag); failed before the fix.

// Review 56: review 55's fix stops the apply when verify cannot read
// where a missing kept tag points now (pushedAgain), but not when it
// cannot read the kept tag's own image to put the tag back on it
// (readIntoJournal): that failed read is noted as a loss and the apply
// goes on deleting the remaining chunks.
//
// What is wrong: restoreTag (repair.go), for a kept tag gone from the
// listing whose image this apply did not delete, reads that image
// (readIntoJournal) to put the tag back. When that read fails other than
// with "not found", it notes a loss and returns nil; verify has no error
// to return, and executeBatch starts the next chunk. The Safety guide
// says "A read that fails during repair is no answer: what was put back
// stays, and the apply stops as unable to check", and review 55's fix
// (689e2c8) made that hold for pushedAgain's read alone.
//
// User-visible consequence: with the registry failing reads of the kept
// image, the apply carries on deleting every remaining chunk (here the
// 17th planned image) while a kept tag is unaccounted for, instead of
// stopping with "could not check" and the apply_id to restore from.
//
// Reproduce: REVIEW56_UNSKIP=1 go test -count=1 -run TestReview56FailedReadOfTheKeptImageDoesNotStopTheApply ./internal/registry/
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

func TestReview56FailedReadOfTheKeptImageDoesNotStopTheApply(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review56/unread-image"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		for i := range chunkPerSlot + 1 { // two chunks at max_concurrency 1
			if _, err := reg.PushImage(repo, created, fmt.Sprintf("pr-%02d", i)); err != nil {
				t.Fatal(err)
			}
		}
		stable, err := reg.PushImage(repo, created, "stable")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "v1"); err != nil {
			t.Fatal(err)
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
				// stable is removed as the first chunk runs (its image stays)
				if err := os.RemoveAll(filepath.Join(reg.RootDir, "docker/registry/v2/repositories", repo, "_manifests/tags/stable")); err != nil {
					t.Error(err)
				}
				deleted.Store(true)
			case r.URL.Path == "/v2/"+repo+"/tags/list" && deleted.Load():
				// verify's listing (stable missing) starts the failing
				// reads of stable's image; the next listing ends them
				failing.Store(!listedAfter.Load())
				listedAfter.Store(true)
			case strings.HasSuffix(r.URL.Path, "/manifests/"+stable.Digest.String()) && r.Method != http.MethodPut && failing.Load():
				failed.Add(1) // readIntoJournal's read: 503 for as long as the transport retries
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nlost %q\ndeleted %d", err, report.Lost, report.Deleted)
		if failed.Load() == 0 {
			t.Fatal("the hooks did not run: no read of stable's image failed")
		}
		if n := deletesAfter.Load(); n > 0 {
			t.Errorf("after verify failed to read the image of the missing kept tag stable, the apply sent %d more DELETE(s) "+
				"(the next chunk) instead of stopping as unable to check", n)
		}
	})
}
