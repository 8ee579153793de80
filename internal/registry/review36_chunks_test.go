package registry

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 36, inside the apply: a repository with more tags that stay than
// a chunk holds (fewStaying resolves none of them again before a chunk),
// max_concurrency 1 so that a chunk is 16 items, 20 planned images: the
// last four are the second chunk. What changes during the first chunk is
// seen by the second chunk's last check only through the tag listing.

// bigRepo pushes 20 kept tags and 20 pr- images and returns the batch a
// plan by c made of them, with its policy, and stable's image.
func bigRepo(t *testing.T, reg *testregistry.Registry, c *Client, repo string) (Batch, v1.Hash) {
	t.Helper()
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	at := func(int) time.Time { return created }
	if _, err := reg.SeedTags(repo, 20, func(i int) string { return fmt.Sprintf("keep-%02d", i) }, at); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.SeedTags(repo, 20, func(i int) string { return fmt.Sprintf("pr-%02d", i) }, at); err != nil {
		t.Fatal(err)
	}
	stable, err := reg.PushImage(repo, created, "stable")
	if err != nil {
		t.Fatal(err)
	}
	batch := planBatch(t, c, repo, deletePR())
	if len(batch.Manifests) != 20 {
		t.Fatalf("planned %d deletions; want 20", len(batch.Manifests))
	}
	return batch, stable.Digest
}

// A rollback during the first chunk: stable is moved onto an image the
// second chunk deletes. The second chunk's last check lists the tags (no
// new name) and does not resolve stable again; the DELETE takes stable
// along. The registry API cannot say onto which of the chunk's manifests
// stable had moved: verification puts every one of them back, untagged,
// and stable on the image it pointed at when last read, with a warning
// naming both. Nothing is lost; the rollback is to redo (a fresh read at
// that moment would have kept it, which costs a request per tag).
func TestReview36KeptTagMovedDuringTheFirstChunkOntoTheSecond(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review36/big-kept"
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch, old := bigRepo(t, reg, c, repo)
		target := batch.Manifests[19].Digest
		onFirstDeleteOf(proxy, batch.Manifests[0].Digest, func() {
			if err := reg.Tag(repo, mustHash(t, target), "stable"); err != nil {
				t.Error(err)
			}
		})
		c = newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1}) // a fresh read
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, true, mustHash(t, target))
		tagIs(t, reg, repo, "stable", old)
		restored := strings.Join(report.Restored, "\n")
		if !strings.Contains(restored, "tag "+repo+":stable on "+old.String()) || !strings.Contains(restored, target) {
			t.Errorf("restored %q; want stable put back on %s and %s named", report.Restored, old, target)
		}
		if len(report.Lost) != 0 || report.Deleted != 16 {
			t.Errorf("report %+v; want the first chunk's 16 deleted, nothing lost", report)
		}
	})
}

// A planned tag of the second chunk moved during the first onto another
// image of the second chunk: neither chunk resolves it again, and both
// DELETEs run in the same chunk, pr-18 going with pr-19's image. Decided
// (TestReview36PlannedTagMovedOntoAnotherPlannedDigest): both were
// reviewed for removal, so nothing kept is lost; the kept tags stay and
// the report counts what is gone.
func TestReview36PlannedTagMovedDuringTheFirstChunkOntoTheSecond(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review36/big-planned"
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch, stable := bigRepo(t, reg, c, repo)
		from, onto := batch.Manifests[18], batch.Manifests[19]
		onFirstDeleteOf(proxy, batch.Manifests[0].Digest, func() {
			if err := reg.Tag(repo, mustHash(t, onto.Digest), from.Tags...); err != nil {
				t.Error(err)
			}
		})
		c = newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		tagIs(t, reg, repo, "stable", stable)
		for i := range 20 {
			if got := resolvesTo(t, reg, repo, fmt.Sprintf("keep-%02d", i)); !strings.HasPrefix(got, "sha256:") {
				t.Errorf("keep-%02d: %s", i, got)
			}
		}
		var planned []v1.Hash
		for _, m := range batch.Manifests {
			planned = append(planned, mustHash(t, m.Digest))
		}
		deletedAsReported(t, reg, repo, report, planned...)
	})
}

func mustHash(t *testing.T, digest string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(digest)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
