package registry

// Regression test of review 58 (fixed: verify runs repairOnceDangling before repairDangling, whose put-backs are marked not deleted and deleted again); failed before the fix.
//
// Review 58: a once-dangling tag pushed onto a planned image in the
// instant of its DELETE is removed by the apply's own deleteAgain when a
// new dangling name is repaired in the same verification.
//
// What is wrong: verify (repair.go) runs repairDangling for the new
// dangling names first. Its tryCandidates puts back every manifest the
// chunk deleted, keeps those the new names resolve to, and for the others
// calls unmarkDeleted and queueDeleteAgain. repairOnceDangling then looks
// at the once-dangling tags, whose GET named their digest
// (Snapshot.danglingOn), but only acts when j.wasDeleted(digest): the
// digest just put back and queued to be deleted again is "not deleted" any
// more, so the tag is skipped. It stays in Snapshot.Unresolved, out of
// Snapshot.Tags, though it now resolves to the manifest put back, which
// nothing in the view keeps. The next round's deleteAgain deletes that
// manifest again, unless the last check resolved the tag (it resolves the
// dangling tags only when they are few: fewStaying's bound,
// chunkPerSlot*max_concurrency = 16 here with max_concurrency = 1, 128 by
// default); the registry's DELETE takes the tag along, and the final
// verification sees a dangling tag gone (goneDangling) and puts the image
// back untagged, with a warning.
//
// User-visible consequence: a tag pushed during the apply (kept: no rule
// may delete what was pushed after the plan) is removed from the registry
// by the apply itself; the apply succeeds, reports no loss, only a warning
// that the tag was "removed, or pushed again onto a manifest this apply
// deleted", and its image untagged. Each race alone is repaired
// (TestReview50OnceDanglingTagPushedDuringTheDeleteStaysDangling); two
// pushes in the same chunk's window are not.
//
// Suggested fix: in repairOnceDangling, take a digest queued in j.again
// (or put back by this verification) as deleted: resolve the tag again
// and keep what it names; or run repairOnceDangling before repairDangling;
// or have deleteAgain skip a digest a once-dangling tag names
// (danglingOn).
//
// Reproduce: go test -count=1 -run TestReview58OnceDanglingTagRemovedByDeleteAgain ./internal/registry/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview58OnceDanglingTagRemovedByDeleteAgain(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review58/once-dangling-again"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		y, err := reg.PushImage(repo, created.Add(time.Hour), "pr-2")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		// release, and more dangling tags than the last check resolves
		// (fewStaying: 16 with max_concurrency = 1).
		for i := 0; i <= chunkPerSlot; i++ {
			tag := fmt.Sprintf("old-%02d", i)
			if i == 0 {
				tag = "release"
			}
			if err := reg.DanglingTag(repo, tag); err != nil {
				t.Fatal(err)
			}
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 2 {
			t.Fatalf("planned %+v; want pr-1's and pr-2's images", batch.Manifests)
		}
		// In the instant of each DELETE, a push: release (dangling when
		// the apply read it) onto pr-1's image, hotfix (a new name) onto
		// pr-2's.
		var mu sync.Mutex
		pushed := map[string]bool{}
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodDelete {
				return false
			}
			var digest v1.Hash
			var tag string
			switch {
			case strings.HasSuffix(r.URL.Path, x.Digest.String()):
				digest, tag = x.Digest, "release"
			case strings.HasSuffix(r.URL.Path, y.Digest.String()):
				digest, tag = y.Digest, "hotfix"
			default:
				return false
			}
			mu.Lock()
			defer mu.Unlock()
			if pushed[tag] {
				return false
			}
			pushed[tag] = true
			req, _ := http.NewRequest(http.MethodDelete, reg.URL+r.URL.Path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				w.WriteHeader(http.StatusInternalServerError)
				return true
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			linkTag50(t, reg, repo, tag, digest)
			w.WriteHeader(resp.StatusCode)
			return true
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\nskipped %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Skipped, report.Deleted)
		if err != nil || len(report.Lost) > 0 {
			return // a loss said is no silent one
		}
		tagIs(t, reg, repo, "hotfix", y.Digest)
		tagIs(t, reg, repo, "release", x.Digest)
	})
}
