package registry

// Regression test of review 51 (fixed): the tests below failed before the
// fix (repair.go: repairDangling puts back children first and keeps what
// the repaired tags need, a failed read is no answer, suspects come back
// with their referrer tags; execute.go: fewStaying bounds dangling tags on
// their own). Review 51: a kept tag left dangling by the registry API's window in a
// large repository (more tags staying than fewStaying resolves before
// and after each chunk).
//
// TestReview51KeptTagDanglingInAnEarlierChunkIsLeftDangling (reported):
// "stable" (kept) is moved onto pr-00's image X as the registry handles
// the apply's DELETE of X, in the first of two chunks, and its tag link
// lands after the DELETE removed X's tags: stable is listed and resolves
// to nothing (the race review 50's pushDuringDelete writes into the
// storage). The repository is large for the apply (max_concurrency 1: 37
// tags stay or wait, more than a chunk's 16), so neither the first
// chunk's verification nor the second chunk's last check resolves stable
// again (fewStaying: none), and the listing still names it (it is not
// "missing", so restoreTag never runs). The final verification resolves
// every staying tag, finds stable dangling and calls repairDangling,
// which tries only what the LAST chunk deleted (j.chunkDeleted): X went
// in the first. It warns "tag app:stable appeared during the apply and
// resolves to no manifest: left as it is" (stable did not appear: it was
// read on its image), nothing is lost, the apply succeeds, and the kept
// tag resolves to nothing, neither back on its image nor on X, which the
// journal holds. The Safety guide: "an existing tag moved onto a planned
// digest in that instant comes back where it pointed before (the move is
// lost, the tag is not); when more tags stay than are re-resolved before
// each chunk (large repositories), that instant is the time since the
// apply read the repository". In a small repository (held, subtest
// "small") the first chunk's verification resolves it and repairs it.
// On distribution v3 and 2.8.
//
// Reproduce: REVIEW51_UNSKIP=1 go test -count=1 -run TestReview51KeptTagDangling ./internal/registry/

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview51KeptTagDanglingInAnEarlierChunkIsLeftDangling(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		for _, size := range []string{"small", "large"} {
			t.Run(size, func(t *testing.T) {
				repo := "review51/large-dangling-" + size
				created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
				planned := chunkPerSlot + 1 // two chunks at max_concurrency 1
				if _, err := reg.SeedTags(repo, planned, func(i int) string { return fmt.Sprintf("pr-%02d", i) }, func(int) time.Time { return created }); err != nil {
					t.Fatal(err)
				}
				kept := 0
				if size == "large" {
					kept = 20
				}
				if kept > 0 {
					if _, err := reg.SeedTags(repo, kept, func(i int) string { return fmt.Sprintf("keep-%02d", i) }, func(int) time.Time { return created }); err != nil {
						t.Fatal(err)
					}
				}
				stable, err := reg.PushImage(repo, created, "stable")
				if err != nil {
					t.Fatal(err)
				}
				proxy := newFaultProxy(t, reg.URL)
				c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
				batch := planBatch(t, c, repo, deletePR())
				if len(batch.Manifests) != planned {
					t.Fatalf("planned %d deletions; want %d", len(batch.Manifests), planned)
				}
				var once sync.Once
				var moved string
				proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
					if r.Method != http.MethodDelete || !strings.Contains(r.URL.Path, "/manifests/sha256:") {
						return false
					}
					handled := false
					once.Do(func() { // the first DELETE: stable's move lands as the registry handles it
						handled = true
						req, _ := http.NewRequest(http.MethodDelete, reg.URL+r.URL.Path, nil)
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							t.Error(err)
							w.WriteHeader(http.StatusInternalServerError)
							return
						}
						resp.Body.Close()
						moved = r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
						linkTag50(t, reg, repo, "stable", mustHash(t, moved))
						w.WriteHeader(resp.StatusCode)
					})
					return handled
				})
				report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
				t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Deleted)
				if err != nil || len(report.Lost) > 0 {
					return // reported, not silent
				}
				got := resolvesTo(t, reg, repo, "stable")
				if got != stable.Digest.String() && got != moved {
					t.Fatalf("apply succeeded, nothing lost; stable resolves to %s (want its image %s, or %s it was moved onto)", got, stable.Digest, moved)
				}
			})
		}
	})
}
