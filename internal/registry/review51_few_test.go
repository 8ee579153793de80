package registry

// Regression test of review 51 (fixed): the tests below failed before the
// fix (repair.go: repairDangling puts back children first and keeps what
// the repaired tags need, a failed read is no answer, suspects come back
// with their referrer tags; execute.go: fewStaying bounds dangling tags on
// their own). Review 51: fewStaying counts dangling tags (5cfdc4e).
//
// TestReview51DanglingTagsMakeASmallRepositoryLarge (reported; a move
// reverted, nothing lost): since review 50's fix, fewStaying returns the
// staying tags and the dangling ones together, or none of either when
// they are more than a chunk's requests. A repository that keeps one tag
// but lists 17 dangling ones (distribution 2.8 after pushes raced
// deletions or garbage collection) is then "large" for the apply at
// max_concurrency 1: no kept tag is resolved again before or after a
// chunk. "stable" (kept) is moved onto pr-16's image X during the first
// chunk, a whole chunk before X's DELETE. Without the dangling tags
// (subtest "control", held) the second chunk's last check resolves stable
// on X, and X stays with it: "a tag pushed or moved onto a planned digest
// keeps it". With them, X is deleted and takes stable along; verification
// puts stable back on its old image and X back untagged: the user's move
// is undone (the warning says to redo it) though the repository has one
// kept tag. The Safety guide promises the re-resolution "when they are
// few (at most 16 per request slot), every tag not yet removed", and says
// of dangling tags "which it also resolves before each chunk": neither
// holds. Dangling tags, resolved before review 50 apart from the bound,
// now push the staying tags over it. On distribution v3 and 2.8.
//
// Reproduce: REVIEW51_UNSKIP=1 go test -count=1 -run TestReview51DanglingTagsMakeASmallRepositoryLarge ./internal/registry/

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

func TestReview51DanglingTagsMakeASmallRepositoryLarge(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		for _, kind := range []string{"control", "dangling"} {
			t.Run(kind, func(t *testing.T) {
				repo := "review51/few-" + kind
				created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
				if _, err := reg.SeedTags(repo, chunkPerSlot+1, func(i int) string { return fmt.Sprintf("pr-%02d", i) }, func(int) time.Time { return created }); err != nil {
					t.Fatal(err)
				}
				if _, err := reg.PushImage(repo, created, "stable"); err != nil {
					t.Fatal(err)
				}
				if kind == "dangling" {
					for i := range chunkPerSlot + 1 {
						if err := reg.DanglingTag(repo, fmt.Sprintf("gone-%02d", i)); err != nil {
							t.Fatal(err)
						}
					}
				}
				proxy := newFaultProxy(t, reg.URL)
				c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
				batch := planBatch(t, c, repo, deletePR())
				if len(batch.Manifests) != chunkPerSlot+1 {
					t.Fatalf("planned %d deletions; want %d", len(batch.Manifests), chunkPerSlot+1)
				}
				x := batch.Manifests[chunkPerSlot].Digest // the second chunk's
				var once sync.Once
				proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
					if r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/manifests/sha256:") && !strings.HasSuffix(r.URL.Path, x) {
						once.Do(func() { // during the first chunk: stable moved onto X
							if err := reg.Tag(repo, mustHash(t, x), "stable"); err != nil {
								t.Error(err)
							}
						})
					}
					return false
				})
				report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
				t.Logf("apply: %v\nskipped %q\nrestored %q\nlost %q\ndeleted %d", err, report.Skipped, report.Restored, report.Lost, report.Deleted)
				if err != nil || len(report.Lost) > 0 {
					t.Fatalf("apply: %v, lost %q", err, report.Lost)
				}
				if got := resolvesTo(t, reg, repo, "stable"); got != x {
					t.Fatalf("stable resolves to %s; want X %s, which it was moved onto a chunk before X's DELETE", got, x)
				}
			})
		}
	})
}
