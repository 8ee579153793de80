package registry

// Regression test of review 58 (fixed: repairOnceDangling notes a loss only when a put-back was refused, else a warning, as repairDangling does); failed before the fix.
//
// Review 58: repairOnceDangling reports a loss for a once-dangling tag
// whose image it did put back.
//
// What is wrong: repairOnceDangling (repair.go) puts back the manifest a
// once-dangling tag's 404 named (Snapshot.danglingOn), through
// tryCandidates, and records in j.lost every tag still resolving to
// nothing afterwards, "could not be put back: it still resolves to no
// manifest", even when no put-back was refused. A tag removed by someone
// while its image was put back (its GET now answers "unknown tag", not a
// revision: the tag is gone, not dangling) is such a tag. repairDangling,
// for the same outcome with a new name (put-back done, tag still
// resolving to nothing), writes a warning, not a loss.
//
// User-visible consequence: the apply fails with "deleted what then had to
// be put back, and could not" (a LostError; the provider's "Lost during
// the apply" error) for a tag nobody kept: the put-back succeeded, and the
// tag no longer exists because someone removed it. A false claim of loss.
//
// Suggested fix: as repairDangling does, record a loss only when a
// put-back was refused; otherwise tell a tag that is gone (a 404 naming
// no revision, or absent from a listing) from one still dangling, and at
// most warn.
//
// Reproduce: go test -count=1 -run TestReview58OnceDanglingTagRemovedDuringItsRepairIsReportedLost ./internal/registry/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview58OnceDanglingTagRemovedDuringItsRepairIsReportedLost(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review58/once-dangling-removed"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		planned, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		if err := reg.DanglingTag(repo, "release"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 {
			t.Fatalf("planned %+v; want pr-1's image", batch.Manifests)
		}
		// release is pushed onto pr-1's image in the instant of its DELETE
		// (as pushDuringDelete), and removed by someone as the apply puts
		// that image back for it.
		var deleted, putBack sync.Once
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, "/manifests/"+planned.Digest.String()) {
				return false
			}
			switch r.Method {
			case http.MethodDelete:
				handled := false
				deleted.Do(func() {
					handled = true
					req, _ := http.NewRequest(http.MethodDelete, reg.URL+r.URL.Path, nil)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						w.WriteHeader(http.StatusInternalServerError)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					linkTag50(t, reg, repo, "release", planned.Digest)
					w.WriteHeader(resp.StatusCode)
				})
				return handled
			case http.MethodPut:
				putBack.Do(func() {
					if err := os.RemoveAll(filepath.Join(reg.RootDir, "docker/registry/v2/repositories", repo, "_manifests/tags/release")); err != nil {
						t.Error(err)
					}
				})
			}
			return false
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\nskipped %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Skipped, report.Deleted)
		if tags, err := reg.Tags(repo); err == nil && !strings.Contains(strings.Join(tags, ","), "release") {
			for _, l := range report.Lost {
				if strings.Contains(l, repo+":release") {
					t.Errorf("reported lost, though its image was put back and the tag no longer exists (removed): %s", l)
				}
			}
		}
	})
}
