package registry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A kept tag that is dangling when the apply reads the repository (listed,
// resolving to nothing: a push that raced a DELETE, which DanglingTag
// writes into the storage) is fixed during the apply: someone pushes it
// again, onto an image the second chunk deletes (a release re-tagged onto
// a build the pull-request rule matches: a tag pushed after the plan, so
// kept). The repository is small: two tags stay (stable, release), so
// lastCheck and verify would resolve every staying tag, and verify after
// the last chunk resolves "every tag that stays". But all of them iterate
// s.Tags, and a dangling tag lives in s.Unresolved: lastCheck's "names
// the view does not know" skips it (Snapshot.listed counts Unresolved),
// fewStaying/staying skip it, and verify neither resolves it as new nor
// counts it missing when the DELETE takes it along. The second chunk
// deletes the image, release goes with it, and the apply reports success
// with nothing restored or lost.
// Regression test of review 49 (fixed).
func TestReview49DanglingKeptTagPushedOntoPlannedDigestIsLostSilently(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review49/dangling-release"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		if _, err := reg.SeedTags(repo, 20, func(i int) string { return fmt.Sprintf("pr-%02d", i) }, func(int) time.Time { return created }); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		if err := reg.DanglingTag(repo, "release"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 20 {
			t.Fatalf("planned %d deletions; want 20", len(batch.Manifests))
		}
		target := mustHash(t, batch.Manifests[19].Digest) // in the second chunk
		onFirstDeleteOf(proxy, batch.Manifests[0].Digest, func() {
			if err := reg.Tag(repo, target, "release"); err != nil {
				t.Error(err)
			}
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nskipped %q\nwarnings %q\ndeleted %d", err, report.Restored, report.Lost, report.Skipped, report.Warnings, report.Deleted)
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		tagIs(t, reg, repo, "release", target)
		mustExist(t, reg, repo, true, target)
	})
}
