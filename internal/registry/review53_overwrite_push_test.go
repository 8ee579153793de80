package registry

// Regression test of review 53 (fixed: restoreTag resolves the tag first, pushedAgain; a push since verify's listing stands, with a warning); failed before the fix.

// Review 53: verify puts a missing kept tag back blindly, over a push of
// that tag made while verify was reading (repair.go restoreTag, 239ab13).
//
// TestReview53RestoreTagOverwritesAPushDuringVerify (reported): the kept
// tag "stable" goes during a chunk (removed, or moved onto a planned image
// in the instant of its DELETE: the guide's window). verify lists the tags
// (stable is missing), then resolves the tags that stay, a request each:
// after a repository's last chunk every one of them (resolveAgain),
// thousands of requests behind network latency, minutes. Only then
// restoreTag PUTs the journaled (or re-read) manifest under "stable",
// unconditionally, with no look at where "stable" points now. A CI job
// that pushed a new release as "stable" in the meantime (after the
// listing) has its tag moved back onto the old image: the new image is
// left untagged, and deployments pulling "stable" get the old one. The
// warning says the tag was "put back where it pointed when last read";
// nothing says a newer push was undone. The Safety guide counts every tag
// pushed or moved after the plan as kept, and limits what repair can lose
// to "an existing tag moved onto a planned digest" in the instant of a
// DELETE; here the push landed on a new image, long before the PUT that
// undid it. Cause: repair.go restoreTag → restore → putManifest(tag)
// without resolving the tag first (a 404 there is what says it is still
// missing; anything else is someone's push, to be left alone).
//
// Reproduce: REVIEW53_UNSKIP=1 go test -count=1 -run TestReview53RestoreTagOverwritesAPushDuringVerify ./internal/registry/
// (distribution v3 in process and 2.8).

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview53RestoreTagOverwritesAPushDuringVerify(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review53/overwrite-push"
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
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 {
			t.Fatalf("planned %+v; want pr-1's image", batch.Manifests)
		}
		var deleted, listedAfter atomic.Bool
		var once sync.Once
		var release testregistry.Image
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, x.Digest.String()):
				// Someone removes stable as the chunk runs (about to push
				// a new release under it).
				if err := os.RemoveAll(filepath.Join(reg.RootDir, "docker/registry/v2/repositories", repo, "_manifests/tags/stable")); err != nil {
					t.Error(err)
				}
				deleted.Store(true)
			case r.URL.Path == "/v2/"+repo+"/tags/list" && deleted.Load():
				listedAfter.Store(true) // verify's listing: stable is missing
			case strings.HasSuffix(r.URL.Path, "/manifests/v1") && listedAfter.Load():
				// While verify resolves the tags that stay, the new
				// release is pushed as stable.
				once.Do(func() {
					var err error
					if release, err = reg.PushImage(repo, created.Add(time.Hour), "stable"); err != nil {
						t.Error(err)
					}
				})
			}
			return false
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Deleted)
		if release.Digest.Hex == "" {
			t.Fatal("the new release was not pushed during verify: the hook did not run")
		}
		if got := resolvesTo(t, reg, repo, "stable"); got != release.Digest.String() {
			t.Fatalf("stable resolves to %s after the apply; the release %s was pushed as stable during the apply (after verify's listing) and the apply moved the tag back, leaving it untagged",
				got, release.Digest)
		}
		if !slices.ContainsFunc(report.Warnings, func(w string) bool {
			return strings.Contains(w, "stable went during the apply and was pushed again onto "+release.Digest.String())
		}) {
			t.Errorf("no warning names stable's push during the apply: %q", report.Warnings)
		}
	})
}
