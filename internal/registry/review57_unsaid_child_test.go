package registry

// Regression test of review 57 (fixed: record journals every step of the chunk's items, so a child free at the last check is deleted as planned, journaled); failed before the fix.
//
// Review 57: registry_manifest_deletion's apply keeps a planned index child
// without saying so (success, no warning, removed_children naming it), when
// the child was kept as the chunk was journaled and free at its last check.
// Review 54 fixed the same report for a child kept at the DELETE; this is
// the other order.
//
// What is wrong: record (journal.go) journals a chunk's dependents (index
// children, referrers) by the `kept` of the judge before the last check;
// runChunk (execute.go) decides by the judge after it. A child kept then
// (a kept tag on it) and free now (that tag removed in between) reaches
// deleteJournaled, which sends no DELETE for what the journal does not
// hold, and returns nil: runChunk consumes the step as done, no note is
// taken, ExecuteManifestDeletion succeeds (the index went), and nothing
// says the child stayed. (When the journal's memory holds the child
// anyway, it is deleted with no entry in the registry's journal: see
// review57_unjournaled_child_test.go.)
//
// User-visible consequence: the apply succeeds with no diagnostic, the
// resource's removed_children names a platform image that is still in
// the registry (untagged now, and never planned again: refresh looks at
// the index's digest only); the design's "a skipped deletion is not a
// deletion" does not hold.
//
// Reproduce: go test -count=1 -run TestReview57ChildFreedAtTheLastCheckIsNeitherDeletedNorSaid ./internal/registry/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview57ChildFreedAtTheLastCheckIsNeitherDeletedNorSaid(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review57/unsaid-child"
		ctx := context.Background()
		index, children, err := reg.PushIndex(repo, []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}, time.Time{}, "multi")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, time.Time{}, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		planned, err := c.PlanManifestDeletion(ctx, repo, "multi", true)
		if err != nil {
			t.Fatal(err)
		}
		a := children[0]
		if planned.Digest != index.String() || !slices.Contains(planned.Children, a.String()) {
			t.Fatalf("planned %+v; want the index with its children", planned)
		}
		// After the plan, someone tags the platform image A...
		if err := reg.Tag(repo, a, "amd64"); err != nil {
			t.Fatal(err)
		}
		// ...and removes that tag again once the apply has journaled the
		// chunk (its store in the journal repository), before the last
		// check's listing.
		var once sync.Once
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			if strings.HasPrefix(r.URL.Path, "/v2/"+JournalRepository+"/") {
				once.Do(func() {
					if err := os.RemoveAll(filepath.Join(reg.RootDir, "docker/registry/v2/repositories", repo, "_manifests/tags/amd64")); err != nil {
						t.Error(err)
					}
				})
			}
			return false
		})
		report, err := c.ExecuteManifestDeletion(ctx, planned)
		t.Logf("apply: %v\nskipped %q\nrestored %q\nwarnings %q\nlost %q\ndeleted %d", err, report.Skipped, report.Restored, report.Warnings, report.Lost, report.Deleted)
		if err != nil {
			return // not reported as done
		}
		mustExist(t, reg, repo, false, index)
		exists, err := reg.ManifestExists(repo, a)
		if err != nil {
			t.Fatal(err)
		}
		said := slices.ContainsFunc(slices.Concat(report.Skipped, report.Warnings, report.Restored), func(s string) bool { return strings.Contains(s, a.String()) })
		if exists && !said {
			t.Errorf("the apply succeeded, its plan removing child %s of the index, which is still in the registry, and the report does not name it", a)
		}
	})
}
