package registry

// Regression test of review 57 (fixed: record journals every step of the chunk's items, dependents kept at journaling time too: runChunk decides after the last check); failed before the fix.
//
// Review 57: an index child the apply deletes without storing it in the
// journal, so that registry_restore cannot bring the index back.
//
// What is wrong: record (journal.go) decides which dependents (index
// children, referrers) of a chunk's items to journal by the `kept` of the
// judge before the chunk's last check; runChunk (execute.go) decides which
// to delete by the `kept` of the judge after it. A child kept when the
// bodies are journaled (a kept tag on it) and free at the last check (that
// tag removed in between) is sent to deleteJournaled, which deletes only
// what the journal holds: in memory. Usually it does not hold it, and the
// child is silently neither deleted nor said (a planned deletion reported
// performed: removed_children names it). But when verification read that
// child into the journal's memory to put a kept tag back on it
// (restoreTag's readIntoJournal), the journal holds it, and it is deleted
// with no entry in the registry's journal (nor in cache_dir's file): the
// Undo guide's "before deleting anything, every apply ... stores, for each
// manifest it deletes by digest, its body" does not hold.
//
// User-visible consequence: the apply succeeds; registry_restore of the
// index it deleted (by digests or by apply_id) then fails: "cannot come
// back ... child manifest sha256:... gone", though garbage collection has
// not run and every blob is still there. The multi-arch release cannot be
// undone.
//
// Sequence (deterministic, through the fault proxy): plan deletes pr-index
// (an index over A and B) and 16 pr images; a kept tag "pinned" is then
// put on A. Chunk 1 (the 16 images) runs; pinned is removed by someone as
// it runs; verify puts pinned back on A, reading A into the journal's
// memory. Before chunk 2's last check, pinned is removed again. Chunk 2
// deletes pr-index, A and B: A is not in the registry's journal.
//
// Reproduce: go test -count=1 -run TestReview57ChildDeletedWithoutJournalEntry ./internal/registry/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview57ChildDeletedWithoutJournalEntry(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review57/unjournaled-child"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		for i := range chunkPerSlot { // chunk 1 at max_concurrency 1
			if _, err := reg.PushImage(repo, created, fmt.Sprintf("pr-%02d", i)); err != nil {
				t.Fatal(err)
			}
		}
		index, children, err := reg.PushIndex(repo, []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}, created, "pr-index")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		planner := newClient(t, Config{URL: reg.URL})
		batch := planBatch(t, planner, repo, deletePR())
		at := slices.IndexFunc(batch.Manifests, func(m ManifestDeletion) bool { return m.Digest == index.String() })
		if at < 0 || len(batch.Manifests) != chunkPerSlot+1 || !slices.Contains(batch.Manifests[at].Children, children[0].String()) {
			t.Fatalf("planned %+v; want the 16 images and pr-index with its children", batch.Manifests)
		}
		item := batch.Manifests[at] // last: chunk 2
		batch.Manifests = append(slices.Delete(batch.Manifests, at, at+1), item)
		// After the plan, a kept tag on the platform image A.
		a := children[0]
		if err := reg.Tag(repo, a, "pinned"); err != nil {
			t.Fatal(err)
		}
		removePinned := func() {
			if err := os.RemoveAll(filepath.Join(reg.RootDir, "docker/registry/v2/repositories", repo, "_manifests/tags/pinned")); err != nil {
				t.Error(err)
			}
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		var first, again sync.Once
		var putBack, removedAgain atomic.Bool
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/v2/"+repo+"/manifests/"):
				first.Do(removePinned) // someone removes pinned as chunk 1 runs
			case r.Method == http.MethodPut && r.URL.Path == "/v2/"+repo+"/manifests/pinned":
				putBack.Store(true) // verify puts it back on A
			case r.Method == http.MethodGet && r.URL.Path == "/v2/"+repo+"/tags/list" && putBack.Load():
				again.Do(func() { removePinned(); removedAgain.Store(true) }) // and removes it again before chunk 2's last check
			}
			return false
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nskipped %q\nwarnings %q\nlost %q", err, report.Restored, report.Skipped, report.Warnings, report.Lost)
		if !putBack.Load() || !removedAgain.Load() {
			t.Fatalf("the hooks did not run: pinned put back %v, removed again %v", putBack.Load(), removedAgain.Load())
		}
		ctx := context.Background()
		exists, err := reg.ManifestExists(repo, a)
		if err != nil {
			t.Fatal(err)
		}
		if exists {
			said := slices.ContainsFunc(slices.Concat(report.Skipped, report.Warnings), func(s string) bool { return strings.Contains(s, a.String()) })
			if !said {
				t.Errorf("planned child %s of pr-index was neither deleted nor named by the report", a)
			}
			return
		}
		records, err := planner.ReadJournal(ctx, JournalFilter{Repository: repo})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(records, func(r JournalRecord) bool { return r.Digest == a.String() }) {
			t.Errorf("the apply deleted pr-index's child %s without storing it in the journal (%s)", a, JournalRepository)
		}
		planned, err := planner.PlanRestore(ctx, RestoreSelection{Digests: []string{index.String()}})
		if err == nil {
			err = planned.ExpiredError()
		}
		if err != nil {
			t.Errorf("restoring pr-index, which this apply deleted (no garbage collection since): %v", err)
		}
	})
}
