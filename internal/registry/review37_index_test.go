package registry

import (
	"context"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 37: indexes whose children are shared between a kept and a
// planned index, with changes during the apply.

// sharedIndexes pushes stable, an index over A and B, and pr-1, an index
// over A (shared) and C; the plan deletes pr-1's index and C, not A.
func sharedIndexes(t *testing.T, reg *testregistry.Registry, c *Client, repo string) (Batch, v1.Hash, v1.Hash, []v1.Hash, v1.Hash) {
	t.Helper()
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	kept, children, err := reg.PushIndex(repo, []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}, created, "stable")
	if err != nil {
		t.Fatal(err)
	}
	c3, err := reg.PushImageFor(repo, v1.Platform{OS: "linux", Architecture: "s390x"}, created)
	if err != nil {
		t.Fatal(err)
	}
	planned, err := reg.PushIndexOf(repo, []v1.Hash{children[0], c3.Digest}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	batch := planBatch(t, c, repo, deletePR())
	if len(batch.Manifests) != 1 || len(batch.Manifests[0].Children) != 1 || batch.Manifests[0].Children[0] != c3.Digest.String() {
		t.Fatalf("planned %+v; want pr-1's index and only its own child %s", batch.Manifests, c3.Digest)
	}
	return batch, kept, planned, children, c3.Digest
}

// A release promoted from a pull request's platform images (buildx
// imagetools create, crane index append): as the planned index's DELETE is
// sent, a new index over the planned child C and the shared child A is
// pushed under tag, and C's DELETE follows in the same item.
func promoteDuringDelete(t *testing.T, reg *testregistry.Registry, repo, tag string) {
	t.Helper()
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL})
	batch, kept, planned, children, c3 := sharedIndexes(t, reg, c, repo)
	var rebuilt v1.Hash
	onFirstDeleteOf(proxy, planned.String(), func() {
		var err error
		if rebuilt, err = reg.PushIndexOf(repo, []v1.Hash{c3, children[0]}, tag); err != nil { // not the planned index's bytes
			t.Error(err)
		}
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	if err != nil {
		t.Fatal(err)
	}
	tagIs(t, reg, repo, tag, rebuilt)
	if err := reg.Pull(repo, tag); err != nil {
		t.Errorf("%s does not pull: %v (report %+v)", tag, err, report)
	}
	mustExist(t, reg, repo, true, kept, children[0], children[1], c3)
	deletedAsReported(t, reg, repo, report, planned)
}

// Under a new tag (beta): the verification resolves the new name, reads
// its index and puts C back. Holds.
func TestReview37NewTagOnANewIndexOverAPlannedChild(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		promoteDuringDelete(t, reg, "review37/shared-children-new", "beta")
	})
}

// Under the kept tag stable, moved off its old index: the verification
// lists the tags and saw stable listed and known, resolving only new
// names, so it never read the index stable points at now: C stayed
// deleted and stable unpullable, with nothing reported lost. A chunk that
// deleted a manifest no tag names (C) now resolves the tags that stay
// again when they are few (deletedUnnamed), reads stable's new index and
// puts C back.
func TestReview37KeptTagMovedOntoANewIndexOverAPlannedChild(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		promoteDuringDelete(t, reg, "review37/shared-children-moved", "stable")
	})
}
