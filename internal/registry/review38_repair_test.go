package registry

import (
	"context"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 38: verification after a chunk that deleted only tagged
// manifests.

// A release promoted from a pull request's single-platform image: as the
// DELETE of pr-1's image M is sent, a new index over M (and another
// platform image) is pushed under the kept tag stable. M is tagged
// (pr-1), so deletedUnnamed says the chunk deleted nothing unnamed and
// verification resolves no staying tag again: stable is listed and known,
// its new index never read, and M stays deleted with stable unpullable,
// nothing reported lost. Review 37's fix (5cb49f4) covers only a deleted
// manifest no tag names; a new index can list a tagged one just as well.
func TestReview38KeptTagMovedOntoANewIndexOverATaggedPlannedImage(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review38/promote-tagged"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		old, err := reg.PushImageFor(repo, v1.Platform{OS: "linux", Architecture: "arm64"}, created, "stable")
		if err != nil {
			t.Fatal(err)
		}
		m, err := reg.PushImageFor(repo, v1.Platform{OS: "linux", Architecture: "amd64"}, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 || batch.Manifests[0].Digest != m.Digest.String() {
			t.Fatalf("planned %+v; want pr-1's image %s deleted", batch.Manifests, m.Digest)
		}
		var promoted v1.Hash
		onFirstDeleteOf(proxy, m.Digest.String(), func() {
			var err error
			if promoted, err = reg.PushIndexOf(repo, []v1.Hash{m.Digest, old.Digest}, "stable"); err != nil {
				t.Error(err)
			}
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		tagIs(t, reg, repo, "stable", promoted)
		if err := reg.Pull(repo, "stable"); err != nil {
			t.Errorf("stable does not pull: %v (report %+v)", err, report)
		}
		mustExist(t, reg, repo, true, m.Digest, old.Digest)
		deletedAsReported(t, reg, repo, report, m.Digest)
	})
}

// The same with a subject: as pr-1's image X is deleted, an attestation of
// X is pushed and the kept tag provenance moved onto it ("an attestation
// tagged provenance keeps the image it attests", Safety guide). X is
// tagged, so verification does not resolve provenance again, never reads
// its new body, and X, the subject a kept tag names, stays deleted.
func TestReview38KeptTagMovedOntoAnAttestationOfATaggedPlannedImage(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review38/attest-tagged"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		old, err := reg.PushImage(repo, created, "provenance")
		if err != nil {
			t.Fatal(err)
		}
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 || batch.Manifests[0].Digest != x.Digest.String() {
			t.Fatalf("planned %+v; want pr-1's image %s deleted", batch.Manifests, x.Digest)
		}
		var att v1.Hash
		onFirstDeleteOf(proxy, x.Digest.String(), func() {
			var err error
			if att, err = reg.PushUntaggedReferrer(repo, x.Digest, "att"); err != nil {
				t.Error(err)
				return
			}
			if err := reg.Tag(repo, att, "provenance"); err != nil {
				t.Error(err)
			}
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		tagIs(t, reg, repo, "provenance", att)
		mustExist(t, reg, repo, true, x.Digest, old.Digest)
		deletedAsReported(t, reg, repo, report, x.Digest)
	})
}
