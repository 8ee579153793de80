package retention

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	imgA, imgB, index1, index2  = dig(0xa), dig(0xb), dig(0x1), dig(0x2)
	child1, child2, sigA, sigC1 = dig(0xc1), dig(0xc2), dig(0x5a), dig(0x5c1)
	sigCopy                     = "sig-copy"
)

// explicitRepo has a shared digest (latest, v1.9), two indexes sharing
// child2, a signature on imgA and one on child1; with signatureTagged,
// the signature of imgA is also tagged by hand.
func explicitRepo(signatureTagged bool) Repository {
	tags := []Tag{
		{Name: "latest", Digest: imgA},
		{Name: "v1.9", Digest: imgA},
		{Name: "v2", Digest: imgB},
		{Name: "multi", Digest: index1},
		{Name: "multi-old", Digest: index2},
		{Name: referrer(imgA, ".sig"), Digest: sigA},
		{Name: referrer(child1, ".sig"), Digest: sigC1},
	}
	if signatureTagged {
		tags = append(tags, Tag{Name: sigCopy, Digest: sigA})
	}
	return Repository{Name: "app", Tags: tags, Links: Links{Children: map[string][]string{
		index1: {child1, child2},
		index2: {child2},
	}}}
}

// One table for what goes with a digest, whoever deletes it: removing the
// tags by a policy (delete_referrers) and by registry_tag_deletion
// (delete_untagged_manifests) deletes the same manifests, and when the
// tags are all those of one digest, registry_manifest_deletion deletes the
// same and removes the same tags.
func TestWhatGoesWithADigest(t *testing.T) {
	for _, tc := range []struct {
		name            string
		signatureTagged bool
		remove          []string
		deleted         []string // by registry_tag_deletion, in order
		tags            []string // removed with them (the policy's decisions)
	}{
		{name: "an image", remove: []string{"v2"}, deleted: []string{imgB}, tags: []string{"v2"}},
		{name: "a shared digest keeps its manifest", remove: []string{"v1.9"}, tags: []string{"v1.9"}},
		{name: "a signed image, subject first", remove: []string{"latest", "v1.9"}, deleted: []string{imgA, sigA},
			tags: []string{"latest", referrer(imgA, ".sig"), "v1.9"}},
		{name: "a signature tagged by hand stays", signatureTagged: true, remove: []string{"latest", "v1.9"}, deleted: []string{imgA},
			tags: []string{"latest", "v1.9"}},
		{name: "an index keeps a child another index lists", remove: []string{"multi"}, deleted: []string{index1, child1, sigC1},
			tags: []string{"multi", referrer(child1, ".sig")}},
		{name: "two indexes take their shared child", remove: []string{"multi", "multi-old"}, deleted: []string{index1, child1, child2, sigC1, index2},
			tags: []string{"multi", "multi-old", referrer(child1, ".sig")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := explicitRepo(tc.signatureTagged)
			explicit := repo.PlanTagDeletion(tc.remove, true)
			if !slices.Equal(explicit.Untagged, tc.deleted) {
				t.Errorf("tag deletion deletes %v, want %v", explicit.Untagged, tc.deleted)
			}
			rule := regexp.MustCompile("^(" + strings.Join(tc.remove, "|") + ")$")
			var byPolicy, tags []string
			for _, d := range Evaluate(repo, Policy{Delete: []DeleteRule{{TagRegex: rule}}, DeleteReferrers: true}, testNow).Decisions {
				if d.Action == DeleteManifest {
					byPolicy = appendNew(byPolicy, append(append([]string{d.Digest}, d.Children...), d.Referrers...)...)
				}
				tags = append(tags, d.Tags...)
			}
			slices.Sort(byPolicy)
			slices.Sort(tags)
			if want := slices.Sorted(slices.Values(tc.deleted)); !slices.Equal(byPolicy, want) {
				t.Errorf("the policy deletes %v, want %v", byPolicy, want)
			}
			if !slices.Equal(tags, tc.tags) {
				t.Errorf("the policy removes tags %v, want %v", tags, tc.tags)
			}
			if len(tc.deleted) == 0 || !slices.Equal(repo.TagsOn(tc.deleted[0]), slices.Sorted(slices.Values(tc.remove))) {
				return // not all the tags of one digest
			}
			m := repo.PlanManifestDeletion(tc.deleted[0], true, nil)
			if got := append(append([]string{m.Digest}, m.Children...), m.Referrers...); !slices.Equal(got, tc.deleted) {
				t.Errorf("manifest deletion deletes %v, want %v", got, tc.deleted)
			}
			if !slices.Equal(m.Tags, tc.tags) {
				t.Errorf("manifest deletion removes tags %v, want %v", m.Tags, tc.tags)
			}
		})
	}
}

func TestPlanManifestDeletionWithoutReferrers(t *testing.T) {
	m := explicitRepo(false).PlanManifestDeletion(imgA, false, nil)
	if !slices.Equal(m.Tags, []string{"latest", "v1.9"}) || len(m.Referrers) != 0 || len(m.Children) != 0 {
		t.Fatalf("%+v", m)
	}
	if m = explicitRepo(false).PlanManifestDeletion(index1, false, nil); !slices.Equal(m.Children, []string{child1}) || len(m.Referrers) != 0 {
		t.Fatalf("index: %+v", m)
	}
}

func TestPlanManifestDeletionUsesAPIReferrers(t *testing.T) {
	sbom := dig(0x5d)
	m := explicitRepo(false).PlanManifestDeletion(imgB, true, map[string][]string{imgB: {sbom, imgA}})
	// imgA is tagged (latest): not ours to delete even if a registry says it refers to imgB.
	if !slices.Equal(m.Referrers, []string{sbom}) {
		t.Fatalf("referrers = %v", m.Referrers)
	}
}

// A child of a tagged index, or the subject of a tagged image, breaks
// what uses it.
func TestPlanManifestDeletionNamesParents(t *testing.T) {
	m := explicitRepo(false).PlanManifestDeletion(child2, true, nil)
	if len(m.BrokenIndexes) != 2 || !slices.Equal(m.BrokenIndexes[index1], []string{"multi"}) || !slices.Equal(m.BrokenIndexes[index2], []string{"multi-old"}) {
		t.Fatalf("parents = %v", m.BrokenIndexes)
	}
}

func TestPlanTagDeletionLeavesOutMissingTags(t *testing.T) {
	p := explicitRepo(false).PlanTagDeletion([]string{"v1.9", "v2", "missing"}, false)
	if len(p.Tags) != 2 || p.Tags["v1.9"] != imgA || p.Tags["v2"] != imgB || len(p.Untagged) != 0 {
		t.Fatalf("%+v", p)
	}
}

func TestFallbackReferrerTags(t *testing.T) {
	repo := Repository{Tags: []Tag{
		{Name: referrer(imgA, ".sig"), Digest: sigA},
		{Name: referrer(imgA, ""), Digest: dig(0xf)},
		{Name: referrer(imgA, ".att"), Digest: dig(0xe)},
		{Name: referrer(imgB, ".sig"), Digest: dig(0xd)},
		{Name: "sha256-not-hex.sig", Digest: dig(0xd)},
		{Name: "latest", Digest: imgA},
	}}
	var names []string
	for _, tag := range repo.FallbackReferrerTags(imgA) {
		names = append(names, tag.Name)
	}
	if want := []string{referrer(imgA, ""), referrer(imgA, ".att"), referrer(imgA, ".sig")}; !slices.Equal(names, want) {
		t.Fatalf("got %v, want %v", names, want)
	}
}

// The apply asks again once the tags are gone (removed is nil then).
func TestUntaggedAfterTheTagsAreGone(t *testing.T) {
	repo := explicitRepo(false)
	repo.Tags = slices.DeleteFunc(repo.Tags, func(t Tag) bool { return t.Digest == imgA && !IsReferrerTag(t.Name) })
	if got := repo.Untagged([]string{imgA}, nil); !slices.Equal(got, []string{imgA, sigA}) {
		t.Fatalf("got %v", got)
	}
}

// Review 48: what goes with a digest follows referrers to any depth,
// whoever deletes it: an SBOM of the image and a signature of the SBOM,
// each listed by an OCI fallback index (as oras attach writes them on a
// registry without the referrers API), and a cosign signature of that
// signature; subjects before their referrers. A referrer kept at any depth
// stays, with the subjects its body names.
func TestReferrersFollowToAnyDepth(t *testing.T) {
	// Digests chosen so that sorting them would put deeper referrers first.
	var (
		image, kept           = dig(0x70), dig(0x71)
		fbImage, sbom         = dig(0x62), dig(0x63)
		fbSBOM, sig, sigOfSig = dig(0x41), dig(0x42), dig(0x30)
	)
	for _, tc := range []struct {
		name        string
		extra       []Tag
		subjects    map[string]string
		untagged    []string // registry_tag_deletion of "old", delete_untagged_manifests: in order
		policy      []string // what the policy deletes, any order
		policyTags  []string // and the tags it removes, sorted
		manifest    []string // registry_manifest_deletion of the image, delete_referrers: in order
		removedTags []string // and the tags it removes
		broken      map[string][]string
	}{
		{
			name:        "an SBOM, its signature and the signature's signature",
			untagged:    []string{image, fbImage, sbom, fbSBOM, sig, sigOfSig},
			policy:      []string{image, fbImage, sbom, fbSBOM, sig, sigOfSig},
			policyTags:  []string{"old", referrer(sig, ".sig"), referrer(sbom, ""), referrer(image, "")},
			manifest:    []string{image, fbImage, sbom, fbSBOM, sig, sigOfSig},
			removedTags: []string{"old", referrer(sig, ".sig"), referrer(sbom, ""), referrer(image, "")},
			broken:      map[string][]string{},
		},
		{
			name:       "a signature of the SBOM kept by a tag keeps the SBOM and the image its body names",
			extra:      []Tag{{Name: "signature", Digest: sig}},
			subjects:   map[string]string{sig: sbom, sbom: image},
			policyTags: []string{"old"}, // untagged only
			// Deleting the image by digest breaks what keeps it, and says so.
			manifest:    []string{image, fbImage},
			removedTags: []string{"old", referrer(image, "")},
			broken:      map[string][]string{sig: {"signature"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := Repository{Name: "app", Tags: append([]Tag{
				{Name: "old", Digest: image},
				{Name: "keep", Digest: kept},
				{Name: referrer(image, ""), Digest: fbImage},
				{Name: referrer(sbom, ""), Digest: fbSBOM},
				{Name: referrer(sig, ".sig"), Digest: sigOfSig},
			}, tc.extra...), Links: Links{Children: map[string][]string{fbImage: {sbom}, fbSBOM: {sig}}, Subjects: tc.subjects}}
			if got := repo.PlanTagDeletion([]string{"old"}, true).Untagged; !slices.Equal(got, tc.untagged) {
				t.Errorf("tag deletion deletes %v, want %v", got, tc.untagged)
			}
			var byPolicy, tags []string
			for _, d := range Evaluate(repo, Policy{Delete: []DeleteRule{{TagRegex: regexp.MustCompile("^old$")}}, DeleteReferrers: true}, testNow).Decisions {
				if d.Action == DeleteManifest {
					byPolicy = appendNew(byPolicy, append(append([]string{d.Digest}, d.Children...), d.Referrers...)...)
				}
				tags = append(tags, d.Tags...)
			}
			slices.Sort(byPolicy)
			slices.Sort(tags)
			if want := slices.Sorted(slices.Values(tc.policy)); !slices.Equal(byPolicy, want) {
				t.Errorf("the policy deletes %v, want %v", byPolicy, want)
			}
			if !slices.Equal(tags, tc.policyTags) {
				t.Errorf("the policy removes tags %v, want %v", tags, tc.policyTags)
			}
			m := repo.PlanManifestDeletion(image, true, nil)
			if got := append(append([]string{m.Digest}, m.Children...), m.Referrers...); !slices.Equal(got, tc.manifest) {
				t.Errorf("manifest deletion deletes %v, want %v", got, tc.manifest)
			}
			if !slices.Equal(m.Tags, tc.removedTags) {
				t.Errorf("manifest deletion removes tags %v, want %v", m.Tags, tc.removedTags)
			}
			if !reflect.DeepEqual(m.BrokenIndexes, tc.broken) {
				t.Errorf("manifest deletion breaks %v, want %v", m.BrokenIndexes, tc.broken)
			}
		})
	}
}

// The referrers API's answers are followed to any depth too: the
// signature of an SBOM goes with the image.
func TestPlanManifestDeletionUsesAPIReferrersToAnyDepth(t *testing.T) {
	sbom, sig := dig(0x5d), dig(0x5e)
	m := explicitRepo(false).PlanManifestDeletion(imgB, true, map[string][]string{imgB: {sbom}, sbom: {sig}})
	if !slices.Equal(m.Referrers, []string{sbom, sig}) {
		t.Fatalf("referrers = %v", m.Referrers)
	}
}
