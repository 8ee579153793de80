package registry

// Regression test of review 54 (fixed: a failed read in pushedAgain is no answer: the tag is not put back, and the apply reports it lost); failed before the fix.

// Review 54: verify's pushedAgain takes a failed read of a missing kept tag
// for "not pushed again" and puts the tag back over the push it could not
// see, and the apply reports success (repair.go restoreTag/pushedAgain,
// 7fa9021).
//
// The kept tag "stable" goes during a chunk (removed by the CI job that is
// about to push a new release under it). verify lists the tags (stable is
// missing), resolves those that stay, then restoreTag asks pushedAgain
// where stable points now. The release has been pushed as stable by then,
// but that one read fails (a 503 for the length of the transport's
// retries). pushedAgain answers "not pushed again" on any error, and
// restoreTag PUTs stable back onto its old image: the new release is left
// untagged (garbage at the next GC), deployments pulling stable get the old
// image, and the apply returns no error. The Safety guide says of repair:
// "A read that fails during repair is no answer: what was put back stays,
// and the apply stops as unable to check"; restoreTag's own read of the old
// digest (readIntoJournal) does report a failure as a loss. Here the
// failed read is an answer ("not pushed"), acted upon by a write, and the
// apply neither stops nor says it could not check.
//
// Reproduce: REVIEW54_UNSKIP=1 go test -count=1 -run TestReview54PushedAgainFailedReadOverwritesPush ./internal/registry/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview54PushedAgainFailedReadOverwritesPush(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review54/pushed-again-read"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "v1"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1, RetryMaxAttempts: 1, RetryMaxElapsed: time.Second})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 {
			t.Fatalf("planned %+v; want pr-1's image", batch.Manifests)
		}
		var deleted, listedAfter, pushed atomic.Bool
		var failed atomic.Int32
		var once sync.Once
		var release testregistry.Image
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, x.Digest.String()):
				// The CI job removes stable as the chunk runs, about to
				// push a new release under it.
				if err := os.RemoveAll(filepath.Join(reg.RootDir, "docker/registry/v2/repositories", repo, "_manifests/tags/stable")); err != nil {
					t.Error(err)
				}
				deleted.Store(true)
			case r.URL.Path == "/v2/"+repo+"/tags/list" && deleted.Load():
				listedAfter.Store(true) // verify's listing: stable is missing
			case strings.HasSuffix(r.URL.Path, "/manifests/v1") && listedAfter.Load():
				once.Do(func() { // while verify resolves the staying tags, the release is pushed as stable
					var err error
					if release, err = reg.PushImage(repo, created.Add(time.Hour), "stable"); err != nil {
						t.Error(err)
					}
					pushed.Store(true)
				})
			case strings.HasSuffix(r.URL.Path, "/manifests/stable") && pushed.Load() && r.Method != http.MethodPut:
				// pushedAgain's read of stable fails: the registry
				// answers 503 for as long as the transport retries.
				failed.Add(1)
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Deleted)
		if release.Digest.Hex == "" || failed.Load() == 0 {
			t.Fatalf("the hooks did not run (release %q, failed reads %d)", release.Digest, failed.Load())
		}
		got := resolvesTo(t, reg, repo, "stable")
		if got != release.Digest.String() {
			t.Errorf("stable resolves to %s after the apply; the release %s was pushed as stable during the apply, and the apply, "+
				"unable to read where stable pointed, moved it back onto the old image, leaving the release untagged", got, release.Digest)
		}
		if err == nil {
			t.Errorf("the apply reported success although it could not read where the missing kept tag stable points (%d failed reads) "+
				"and acted on that failed read", failed.Load())
		}
	})
}
