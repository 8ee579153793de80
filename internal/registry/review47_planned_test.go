package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A planned tag removed by someone else during an earlier chunk: CI
// deleting a pull request's tag as the pull request closes, while the
// nightly retention apply deletes the pr- images (max_concurrency 1: 16
// items a chunk, 17 planned, pr-16's item in the second chunk). The
// verification after the first chunk finds pr-16 gone though no item that
// ran removed it, and restoreTag(kept = false) puts it back on its image
// ("put back where it pointed when last read"), which the second chunk
// then deletes, with the tag, as planned. The report says the tag was put
// back (Restored, the provider's "Put back during the apply" warning) for
// a tag that is gone at the end and that the plan itself removes; with
// credentials that may delete but not push, the PUT is refused and the
// apply fails naming a loss of that tag.
func plannedTagRemovedBySomeoneElse47(t *testing.T, reg *testregistry.Registry, refusePush bool) (Report, string, error) {
	t.Helper()
	const repo = "review47/planned-gone"
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	if _, err := reg.SeedTags(repo, 17, func(i int) string { return fmt.Sprintf("pr-%02d", i) }, func(int) time.Time { return created }); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage(repo, created, "stable"); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
	batch := planBatch(t, c, repo, deletePR())
	if len(batch.Manifests) != 17 {
		t.Fatalf("planned %d deletions; want 17", len(batch.Manifests))
	}
	later := batch.Manifests[16]
	if len(later.Tags) != 1 {
		t.Fatalf("the second chunk's item %+v; want one tag", later)
	}
	tag := later.Tags[0]
	other := newClient(t, Config{URL: reg.URL}) // CI, straight to the registry
	first := batch.Manifests[0].Digest
	var removed bool
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, first) && !removed {
			removed = true
			if err := other.DeleteTag(context.Background(), repo, tag); err != nil {
				t.Error(err)
			}
		}
		if refusePush && (r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodPatch) {
			http.Error(w, `{"errors":[{"code":"DENIED","message":"push refused"}]}`, http.StatusForbidden)
			return true
		}
		return false
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	if !removed {
		t.Fatal("the tag was never removed by the other client")
	}
	t.Logf("%s: err %v\nrestored %q\nlost %q\nwarnings %q\nskipped %q\ndeleted %d", tag, err, report.Restored, report.Lost, report.Warnings, report.Skipped, report.Deleted)
	if got := resolvesTo(t, reg, repo, tag); !strings.HasPrefix(got, "error") {
		t.Logf("%s resolves to %s after the apply", tag, got)
	}
	return report, tag, err
}

// Regression test of review 47 (fixed).
func TestReview47PlannedTagRemovedBySomeoneElseFalselyPutBack(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		report, tag, err := plannedTagRemovedBySomeoneElse47(t, reg, false)
		if err != nil || len(report.Lost) > 0 {
			t.Fatalf("apply: %v, lost %q", err, report.Lost)
		}
		if got := resolvesTo(t, reg, "review47/planned-gone", tag); strings.HasPrefix(got, "sha256:") {
			t.Fatalf("%s resolves to %s: not the case under test", tag, got)
		}
		for _, note := range report.Restored {
			if strings.Contains(note, ":"+tag+" ") {
				t.Errorf("reported put back, though the plan removes it and it is gone after the apply: %s", note)
			}
		}
	})
}

// Regression test of review 47 (fixed).
func TestReview47PlannedTagRemovedBySomeoneElseFalseLossWithoutPush(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		report, _, err := plannedTagRemovedBySomeoneElse47(t, reg, true)
		if err != nil || len(report.Lost) > 0 {
			t.Errorf("apply: %v, lost %q", err, report.Lost)
		}
	})
}
