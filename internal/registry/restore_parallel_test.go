package registry

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

// A restore writes its images side by side, up to max_concurrency (those
// that need nothing else the restore writes in one wave: restoreWaves),
// then their tags: undoing an apply of thousands of images behind network
// latency costs the round trips of one image per slot, not of each in
// turn (review 61 measured 4 round trips an image, one after another).
func TestRestoreWritesSideBySide(t *testing.T) {
	reg := testregistry.Start(t)
	const repo = "app"
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	var tags []string
	for i := 1; i <= 8; i++ {
		tags = append(tags, fmt.Sprintf("pr-%d", i))
		if _, err := reg.PushImage(repo, created, tags[i-1]); err != nil {
			t.Fatal(err)
		}
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 4})
	report, err := c.ExecuteBatches(context.Background(), []Batch{planBatch(t, c, repo, deletePR())})
	if err != nil || report.Deleted != 8 {
		t.Fatalf("apply: deleted %d, %v; want 8", report.Deleted, err)
	}
	var inFlight, most [2]atomic.Int32 // manifest PUTs by digest, then by tag
	proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/"+repo+"/manifests/") {
			i := 1
			if strings.Contains(r.URL.Path, "/manifests/sha256:") {
				i = 0
			}
			n := inFlight[i].Add(1)
			for m := most[i].Load(); n > m && !most[i].CompareAndSwap(m, n); m = most[i].Load() {
			}
			time.Sleep(30 * time.Millisecond)
			inFlight[i].Add(-1)
		}
		return false
	})
	planned, err := c.PlanRestore(context.Background(), RestoreSelection{ApplyID: report.ApplyID})
	if err != nil {
		t.Fatal(err)
	}
	if len(planned.Images) != 8 {
		t.Fatalf("planned %d images; want 8", len(planned.Images))
	}
	if err := c.ExecuteRestore(context.Background(), planned, func(string) {}); err != nil {
		t.Fatal(err)
	}
	mustPull(t, reg, repo, tags...)
	for i, what := range []string{"by digest", "by tag"} {
		if most[i].Load() < 2 {
			t.Errorf("at most %d manifest PUT(s) %s at once; want them side by side (max_concurrency = 4)", most[i].Load(), what)
		}
	}
}
