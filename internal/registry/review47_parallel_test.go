package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Held: max_concurrency 4, one chunk of 20 DELETEs in flight four at a
// time. As the DELETE of one planned image in the middle of the chunk
// reaches the registry (others in flight around it), the kept tag stable
// is moved onto it, and a new tag beta is pushed on a new index over
// another planned image whose DELETE is still to come. Verification puts
// stable back where it was with the chunk's manifests untagged
// (restoreSuspects), and the index child back for beta (resolved as a new
// name): nothing kept is lost, nothing is reported lost.
func TestReview47ParallelChunkMoveAndPromote(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review47/parallel"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		if _, err := reg.SeedTags(repo, 20, func(i int) string { return fmt.Sprintf("pr-%02d", i) }, func(int) time.Time { return created }); err != nil {
			t.Fatal(err)
		}
		old, err := reg.PushImage(repo, created, "stable")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 4})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 20 {
			t.Fatalf("planned %d", len(batch.Manifests))
		}
		moveOnto, child := batch.Manifests[9].Digest, mustHash(t, batch.Manifests[15].Digest)
		var once, promote sync.Once
		var index v1.Hash
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodDelete {
				return false
			}
			promote.Do(func() {
				var err error
				if index, err = reg.PushIndexOf(repo, []v1.Hash{child}, "beta"); err != nil {
					t.Error(err)
				}
			})
			if strings.HasSuffix(r.URL.Path, moveOnto) {
				once.Do(func() {
					if err := reg.Tag(repo, mustHash(t, moveOnto), "stable"); err != nil {
						t.Error(err)
					}
				})
			}
			return false
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil || len(report.Lost) > 0 {
			t.Fatalf("apply: %v, lost %q", err, report.Lost)
		}
		tagIs(t, reg, repo, "stable", old.Digest)
		tagIs(t, reg, repo, "beta", index)
		mustPull(t, reg, repo, "stable", "beta")
		mustExist(t, reg, repo, true, mustHash(t, moveOnto), child)
		if !strings.Contains(strings.Join(report.Restored, "\n"), moveOnto) {
			t.Errorf("restored %q; want %s named", report.Restored, moveOnto)
		}
	})
}
