package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 39: created times in the apply's view after verification put a
// kept tag back, under an age-ranked policy evaluated again between
// chunks.

// keepNewest3 keeps the 3 newest tags by created time and deletes the rest.
func keepNewest3() retention.Policy {
	return retention.Policy{
		Keep:   []retention.KeepRule{{Newest: 3, OrderBy: retention.ByCreated}},
		Delete: []retention.DeleteRule{{}},
	}
}

// 23 images v00..v22, v_i created i hours after the first; keep { newest =
// 3 } plans v00..v19. With max_concurrency 1 a chunk is 16 items: v00..v15
// first, v16..v19 second (the batch is put in tag order so that the
// images next to the cut-off fall in the second chunk; the plan's own
// order does that one time in two). A rollback during the first chunk:
// the newest tag v22 is moved onto v00's image as its DELETE is sent, and
// goes with it. Verification puts v22 back where it pointed and the
// chunk's manifests back untagged (restoreSuspects, as designed). But
// restore records v22 in the view as {digest, media type, size}: no
// created time. describedAs then trusts that entry whenever v22 is
// resolved again (same media type and size), so the policy evaluated
// again before the second chunk ranks v22 "unknown age, last": v19 joins
// the newest 3 and its planned deletion is skipped as contradicted. The
// registry serves v22 on its own image again, as newest as ever: the
// apply did less than the plan for no reason the registry shows. A tag put
// back now keeps its description, created time included (restoreTag), and
// a description without one is read again (describedAs).
func TestReview39KeptTagPutBackLosesItsCreatedTime(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review39/put-back-created"
		base := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		digests, err := reg.SeedTags(repo, 23, func(i int) string { return fmt.Sprintf("v%02d", i) },
			func(i int) time.Time { return base.Add(time.Duration(i) * time.Hour) })
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch := planBatch(t, c, repo, keepNewest3())
		if len(batch.Manifests) != 20 {
			t.Fatalf("planned %d deletions; want v00..v19", len(batch.Manifests))
		}
		slices.SortFunc(batch.Manifests, func(a, b ManifestDeletion) int { return strings.Compare(a.Tags[0], b.Tags[0]) })
		if batch.Manifests[0].Tags[0] != "v00" || batch.Manifests[19].Tags[0] != "v19" {
			t.Fatalf("planned %+v", batch.Manifests)
		}
		onFirstDeleteOf(proxy, digests[0].String(), func() {
			if err := reg.Tag(repo, digests[0], "v22"); err != nil {
				t.Error(err)
			}
		})
		c = newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1}) // a fresh read
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		tagIs(t, reg, repo, "v22", digests[22])
		mustExist(t, reg, repo, true, digests[20:]...)
		mustExist(t, reg, repo, true, digests[:16]...) // the first chunk's, put back untagged
		// The second chunk: the policy at apply time, on what the registry
		// serves (v20..v22 newest), still deletes v16..v19.
		mustExist(t, reg, repo, false, digests[16:20]...)
		deletedAsReported(t, reg, repo, report, digests[:20]...)
		for _, s := range report.Skipped {
			if strings.Contains(s, digests[19].String()) {
				t.Errorf("skipped %q: v22 is still the newest", s)
			}
		}
	})
}
