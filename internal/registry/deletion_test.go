package registry

import (
	"slices"
	"testing"
)

const (
	imgA   = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	imgB   = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	index1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	index2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	child1 = "sha256:c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
	child2 = "sha256:c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"
	sigA   = "sha256:5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
	sigC1  = "sha256:5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c"
)

func image(digest string) Manifest {
	return Manifest{Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json"}
}

func index(digest string) Manifest {
	return Manifest{Digest: digest, MediaType: "application/vnd.oci.image.index.v1+json"}
}

func fallbackTag(subject, suffix string) string {
	return "sha256-" + subject[len("sha256:"):] + suffix
}

// A repository with a shared digest, two indexes sharing child2, and
// signatures on imgA and on child1.
func testSnapshot() *Snapshot {
	return &Snapshot{
		Repository: "app",
		Tags: map[string]Manifest{
			"latest":                    image(imgA),
			"v1.9":                      image(imgA),
			"v2":                        image(imgB),
			"multi":                     index(index1),
			"multi-old":                 index(index2),
			fallbackTag(imgA, ".sig"):   image(sigA),
			fallbackTag(child1, ".sig"): image(sigC1),
		},
		Children: map[string][]string{
			index1: {child1, child2},
			index2: {child2},
		},
	}
}

func TestPlanManifestDeletionTakesEveryTagOnTheDigest(t *testing.T) {
	d := testSnapshot().PlanManifestDeletion(imgA, false, nil)
	if !slices.Equal(d.Tags, []string{"latest", "v1.9"}) || len(d.Referrers) != 0 || len(d.Children) != 0 {
		t.Fatalf("%+v", d)
	}
	d = testSnapshot().PlanManifestDeletion(imgA, true, nil)
	if !slices.Equal(d.Tags, []string{"latest", fallbackTag(imgA, ".sig"), "v1.9"}) || !slices.Equal(d.Referrers, []string{sigA}) {
		t.Fatalf("with referrers: %+v", d)
	}
}

func TestPlanManifestDeletionKeepsSharedChildren(t *testing.T) {
	d := testSnapshot().PlanManifestDeletion(index1, true, nil)
	if !slices.Equal(d.Children, []string{child1}) {
		t.Fatalf("children = %v, want only child1 (child2 is in multi-old too)", d.Children)
	}
	if !slices.Equal(d.Referrers, []string{sigC1}) {
		t.Fatalf("referrers = %v, want the deleted child's signature", d.Referrers)
	}
}

func TestPlanManifestDeletionUsesAPIReferrers(t *testing.T) {
	const sbom = "sha256:5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d"
	d := testSnapshot().PlanManifestDeletion(imgB, true, map[string][]string{imgB: {sbom, imgA}})
	// imgA is tagged (latest): not ours to delete even if a registry says it refers to imgB.
	if !slices.Equal(d.Referrers, []string{sbom}) {
		t.Fatalf("referrers = %v", d.Referrers)
	}
}

func TestPlanTagDeletion(t *testing.T) {
	s := testSnapshot()
	d := s.PlanTagDeletion([]string{"v1.9", "v2", "missing"}, true)
	if len(d.Tags) != 2 || d.Tags["v1.9"] != imgA || d.Tags["v2"] != imgB {
		t.Fatalf("tags = %v", d.Tags)
	}
	// imgA keeps "latest"; imgB is left untagged.
	if !slices.Equal(d.Untagged, []string{imgB}) {
		t.Fatalf("untagged = %v", d.Untagged)
	}
	d = s.PlanTagDeletion([]string{"latest", "v1.9"}, true)
	if !slices.Equal(d.Untagged, []string{imgA, sigA}) {
		t.Fatalf("untagged = %v, want the image then its signature", d.Untagged)
	}
	if d = s.PlanTagDeletion([]string{"multi"}, false); len(d.Untagged) != 0 {
		t.Fatalf("untagged without the option = %v", d.Untagged)
	}
}
