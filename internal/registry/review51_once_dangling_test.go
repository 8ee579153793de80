package registry

// Regression test of review 51 (fixed): the tests below failed before the
// fix (repair.go: repairDangling puts back children first and keeps what
// the repaired tags need, a failed read is no answer, suspects come back
// with their referrer tags; execute.go: fewStaying bounds dangling tags on
// their own). Review 51: a tag dangling when the apply read it, pushed again onto a
// planned image during the apply of a large repository.
//
// TestReview51OnceDanglingTagPushedAgainGoesUnnoticed (reported): the
// repository lists "release" without a manifest when the apply reads it
// (a dangling tag: Snapshot.Unresolved). During the first of two chunks,
// someone pushes release again, onto pr-16's image X, which the second
// chunk deletes: a whole chunk before X's DELETE, not "in the instant of
// its DELETE" (review 50's decided window). The repository is large for
// the apply (max_concurrency 1, 37 tags staying or waiting), so the last
// check before the second chunk resolves neither the staying tags nor the
// dangling ones (fewStaying counts both, and returns none), and release,
// listed since the read, is not a new name: X's item is not contradicted,
// and its DELETE takes release along. The verification after the chunk
// looks for missing tags among the view's resolved tags only (verify
// ranges over Snapshot.Tags; release is in Unresolved), and the final
// resolution of every staying and dangling tag skips those no longer
// listed. Nothing notices: no restore, no warning, no loss; the apply
// succeeds and the kept tag release (pushed after the plan) no longer
// exists, nor does X. The same push with a tag that resolved when read
// ("stable" moved onto X, held in the subtest "resolved") is caught as a
// missing tag and put back. On distribution v3 and 2.8.
//
// Reproduce: REVIEW51_UNSKIP=1 go test -count=1 -run TestReview51OnceDanglingTagPushedAgain ./internal/registry/

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

func TestReview51OnceDanglingTagPushedAgainGoesUnnoticed(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		for _, tag := range []string{"resolved", "dangling"} {
			t.Run(tag, func(t *testing.T) {
				repo := "review51/once-dangling-" + tag
				created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
				if _, err := reg.SeedTags(repo, chunkPerSlot+1, func(i int) string { return fmt.Sprintf("pr-%02d", i) }, func(int) time.Time { return created }); err != nil {
					t.Fatal(err)
				}
				if _, err := reg.SeedTags(repo, 20, func(i int) string { return fmt.Sprintf("keep-%02d", i) }, func(int) time.Time { return created }); err != nil {
					t.Fatal(err)
				}
				name := "stable"
				if tag == "dangling" {
					name = "release"
					if err := reg.DanglingTag(repo, name); err != nil {
						t.Fatal(err)
					}
				} else if _, err := reg.PushImage(repo, created, name); err != nil {
					t.Fatal(err)
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
						once.Do(func() { // during the first chunk: the tag pushed onto X
							if err := reg.Tag(repo, mustHash(t, x), name); err != nil {
								t.Error(err)
							}
						})
					}
					return false
				})
				report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
				t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Deleted)
				if err != nil || len(report.Lost) > 0 {
					return // reported, not silent
				}
				got := resolvesTo(t, reg, repo, name)
				xThere, _ := reg.ManifestExists(repo, mustHash(t, x))
				if strings.HasPrefix(got, "error") && !xThere {
					t.Fatalf("apply succeeded, nothing lost, nothing said; %s resolves to %s and X %s, which it was pushed onto, is gone", name, got, x)
				}
			})
		}
	})
}
