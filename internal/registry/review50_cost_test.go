package registry

// Review 50: the cost of resolving dangling tags again (review 49's fix).
//
// TestReview50DanglingTagsAreResolvedAgainBeforeEveryChunk (reported):
// lastCheck resolves every dangling tag (listed, resolving to nothing)
// before each chunk, "dangling ones (few)", with no bound: unlike the
// staying tags (fewStaying: at most a chunk's requests, none beyond), a
// repository with many dangling tags (a 2.8 registry after years of
// pushes racing deletes or GC) pays one request per dangling tag per
// chunk: chunks x dangling requests, which the Safety guide rules out ("No
// rule may depend on how fast a repository can be read", "one request per
// thousand" tags before a chunk). Here 300 dangling tags and 64 planned
// images at max_concurrency 1 (4 chunks of 16): the apply resolves them
// 5 times over (each chunk's lastCheck, the last verify: 1500 requests);
// bounded as the staying tags are, it would resolve them at most the read
// and the last verification (2x), plus a chunk's worth per chunk. On
// distribution v3 (a cost, not a registry behaviour).

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Regression test of review 50 (fixed).
func TestReview50DanglingTagsAreResolvedAgainBeforeEveryChunk(t *testing.T) {
	reg := testregistry.Start(t)
	const repo = "review50/many-dangling"
	const dangling, planned = 300, 64
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	if _, err := reg.SeedTags(repo, planned, func(i int) string { return fmt.Sprintf("pr-%02d", i) }, func(int) time.Time { return created }); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage(repo, created, "stable"); err != nil {
		t.Fatal(err)
	}
	for i := range dangling {
		if err := reg.DanglingTag(repo, fmt.Sprintf("old-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
	batch := planBatch(t, c, repo, deletePR())
	if len(batch.Manifests) != planned {
		t.Fatalf("planned %d; want %d", len(batch.Manifests), planned)
	}
	var resolutions atomic.Int64
	proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/manifests/old-") {
			resolutions.Add(1)
		}
		return false
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	if err != nil || report.Deleted != planned {
		t.Fatalf("apply: %v, deleted %d", err, report.Deleted)
	}
	chunks := planned / chunkPerSlot
	bound := 2*dangling + chunks*chunkPerSlot
	t.Logf("%d requests for %d dangling tags over %d chunks", resolutions.Load(), dangling, chunks)
	if n := resolutions.Load(); n > int64(bound) {
		t.Errorf("%d requests resolving %d dangling tags in an apply of %d chunks; want at most %d (the read, the last verification, a chunk's worth per chunk)", n, dangling, chunks, bound)
	}
}
