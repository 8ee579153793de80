package registry

import (
	"slices"
	"testing"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// At apply, a replica does only what the primary's apply did: a planned
// manifest the primary kept (skipped: a tag moved onto it) stays on the
// replica too, and so do its children and the tags the primary did not
// remove.
func TestReplicaDoesOnlyWhatThePrimaryDid(t *testing.T) {
	planned := Batch{Repository: "app",
		Manifests: []ManifestDeletion{
			{ManifestPlan: retention.ManifestPlan{Digest: "sha256:a", Tags: []string{"v1"}, Children: []string{"sha256:a1", "sha256:a2"}}},
			{ManifestPlan: retention.ManifestPlan{Digest: "sha256:b", Tags: []string{"v2"}}},
		},
		Untag: map[string]string{"pr-1": "sha256:c", "pr-2": "sha256:c"},
	}
	got := Performed{Digests: map[string]bool{"sha256:a": true, "sha256:a1": true}, Tags: map[string]bool{"v1": true, "pr-2": true}}.Narrow(planned)
	if len(got.Manifests) != 1 || got.Manifests[0].Digest != "sha256:a" || !slices.Equal(got.Manifests[0].Children, []string{"sha256:a1"}) ||
		len(got.Untag) != 1 || got.Untag["pr-2"] != "sha256:c" {
		t.Errorf("Narrow = %+v; want sha256:a with child a1 only, and pr-2 removed from sha256:c", got)
	}
	if planned.Manifests[0].Children[1] != "sha256:a2" {
		t.Error("Narrow changed the planned batch")
	}
	if got := (Performed{}).Narrow(planned); len(got.Manifests)+len(got.Untag) != 0 {
		t.Errorf("nothing performed: Narrow = %+v, want nothing", got)
	}
}

// The batches of a plan's decisions, grouped by repository in order; a
// replica's carry Replica (its own signatures keep what they name: review
// 42 found it lost in a hand conversion) and the digests deployed images
// pin in each repository.
func TestBatchesOfDecisions(t *testing.T) {
	decisions := []retention.Decision{
		{Repository: "b", Digest: "sha256:1", Action: retention.DeleteManifest, Tags: []string{"v1"}, Children: []string{"sha256:c"}, Referrers: []string{"sha256:s"}},
		{Repository: "a", Digest: "sha256:2", Action: retention.Untag, Tags: []string{"pr-1", "pr-2"}},
		{Repository: "b", Digest: "sha256:3", Action: retention.DeleteManifest, Tags: []string{"v3"}},
	}
	images := []retention.Image{{Repository: "b", Digest: "sha256:p"}, {Repository: "c", Digest: "sha256:q"}, {Repository: "b", Tag: "v9"}}
	for _, replica := range []bool{false, true} {
		got := Batches(decisions)
		if replica {
			got = ReplicaBatches(decisions, images)
		}
		if len(got) != 2 || got[0].Repository != "b" || got[1].Repository != "a" {
			t.Fatalf("replica %v: batches %+v, want b then a", replica, got)
		}
		b, a := got[0], got[1]
		if len(b.Manifests) != 2 || b.Manifests[0].Digest != "sha256:1" || b.Manifests[0].Repository != "b" ||
			!slices.Equal(b.Manifests[0].Children, []string{"sha256:c"}) || !slices.Equal(b.Manifests[0].Referrers, []string{"sha256:s"}) ||
			b.Manifests[1].Digest != "sha256:3" || len(b.Untag) != 0 {
			t.Errorf("replica %v: batch of b = %+v", replica, b)
		}
		if len(a.Manifests) != 0 || len(a.Untag) != 2 || a.Untag["pr-1"] != "sha256:2" || a.Untag["pr-2"] != "sha256:2" {
			t.Errorf("replica %v: batch of a = %+v", replica, a)
		}
		if b.Replica != replica || a.Replica != replica {
			t.Errorf("replica %v: Replica = %v, %v", replica, b.Replica, a.Replica)
		}
		if wantPinned := map[bool][]string{true: {"sha256:p"}}[replica]; !slices.Equal(b.Pinned, wantPinned) || len(a.Pinned) != 0 {
			t.Errorf("replica %v: Pinned = %v, %v; want %v and none", replica, b.Pinned, a.Pinned, wantPinned)
		}
	}
}
