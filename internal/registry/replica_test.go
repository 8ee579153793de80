package registry

import (
	"slices"
	"testing"
)

// At apply, a replica does only what the primary's apply did: a planned
// manifest the primary kept (skipped: a tag moved onto it) stays on the
// replica too, and so do its children and the tags the primary did not
// remove.
func TestReplicaDoesOnlyWhatThePrimaryDid(t *testing.T) {
	planned := Batch{Repository: "app",
		Manifests: []ManifestDeletion{
			{Digest: "sha256:a", Tags: []string{"v1"}, Children: []string{"sha256:a1", "sha256:a2"}},
			{Digest: "sha256:b", Tags: []string{"v2"}},
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
