package registry

import (
	"context"
	"fmt"
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
// along, and verification puts stable back on the image it pointed at
// when last read: the rollback is undone and the image stable pointed at
// when the second chunk started is deleted. A fresh read at that moment
// keeps it (stable is a kept tag).
func TestReview36KeptTagMovedDuringTheFirstChunkOntoTheSecond(t *testing.T) {
	reported(t, "big repository: a kept tag moved onto a digest of a later chunk during an earlier chunk is not seen; the DELETE takes it and verification puts it back on its old image, the image it pointed at deleted")
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review36/big-kept"
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch, _ := bigRepo(t, reg, c, repo)
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
		if got := resolvesTo(t, reg, repo, "stable"); got != target {
			t.Errorf("stable resolves to %s; want %s, where it was moved before the second chunk (report %+v)", got, target, report)
		}
	})
}

// A planned tag of the second chunk moved during the first onto another
// image of the second chunk: neither chunk resolves it again, and both
// DELETEs run in the same chunk: pr-00's new image goes, with pr-00.
// (TestReview36PlannedTagMovedOntoAnotherPlannedDigest is the planning
// pass's read; this is a fresh one.)
func TestReview36PlannedTagMovedDuringTheFirstChunkOntoTheSecond(t *testing.T) {
	reported(t, "big repository: a planned tag moved during an earlier chunk onto another digest of a later chunk is deleted with it (both digests go; a read at that moment keeps both)")
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review36/big-planned"
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch, _ := bigRepo(t, reg, c, repo)
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
		mustExist(t, reg, repo, true, mustHash(t, onto.Digest))
		for _, tag := range from.Tags {
			if got := resolvesTo(t, reg, repo, tag); got != onto.Digest {
				t.Errorf("%s resolves to %s; want %s (report %+v)", tag, got, onto.Digest, report)
			}
		}
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
