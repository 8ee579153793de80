package retention

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Pinned is the one rule of what a pinned digest keeps: index children
// however deep, the subject it names, the referrers naming it, and in turn
// what each of those reaches; nothing else. The same rule over another kind
// of node (garbage collection's blob numbers).
func TestPinnedKeepsWhatItReaches(t *testing.T) {
	index, nested, child, leaf, sbom, sbomOfSbom, sig, sigSubject, subjectChild, other := dig(1), dig(2), dig(3), dig(4), dig(5), dig(6), dig(7), dig(8), dig(9), dig(10)
	links := Links{
		Children: map[string][]string{index: {nested, child}, nested: {leaf}, sigSubject: {subjectChild}, other: {child}},
		Subjects: map[string]string{sbom: child, sbomOfSbom: sbom, sig: sigSubject},
	}
	roots := []string{index, sig}
	got := slices.Sorted(maps.Keys(links.Pinned(roots...)))
	if !slices.Equal(roots, []string{index, sig}) {
		t.Errorf("Pinned changed its caller's roots: %q", roots)
	}
	want := []string{index, nested, child, leaf, sbom, sbomOfSbom, sig, sigSubject, subjectChild} // not other
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Pinned = %q\nwant %q", got, want)
	}
	if len(links.Pinned()) != 0 {
		t.Error("no pin keeps something")
	}

	children := map[int][]int{1: {2}, 2: {3}}
	subjects := map[int]int{4: 1, 5: 6}
	kept := Pinned(Edges[int]{
		Children: func(n int) []int { return children[n] },
		Subject:  func(n int) (int, bool) { s, ok := subjects[n]; return s, ok },
		Referrers: func(n int) []int {
			var out []int
			for r, s := range subjects {
				if s == n {
					out = append(out, r)
				}
			}
			return out
		},
	}, 1)
	if got := slices.Sorted(maps.Keys(kept)); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Errorf("Pinned over ints = %v, want [1 2 3 4]", got)
	}
}

// A pod's imageID often names an index whose tag has moved on: what that
// untagged index lists stays, whatever tags its children carry and
// whichever tagged index shares them; so do the referrers of what it
// reaches (issue 30, loss path 1).
func TestEvaluateKeepsWhatAPinnedUntaggedIndexReaches(t *testing.T) {
	deployedIndex, amd64, arm64, pr7, pr7Only, sbom := dig(1), dig(2), dig(3), dig(4), dig(5), dig(6)
	const ref = "reg.example.com/app@sha256:0000000000000000000000000000000000000000000000000000000000000001"
	repo := Repository{
		Name: "app",
		Tags: []Tag{
			{Name: "pr-1-amd64", Digest: amd64}, // a child of the deployed index, tagged too
			{Name: "pr-7", Digest: pr7},         // shares amd64 with the deployed index
			{Name: "pr-1-sbom", Digest: sbom},   // names arm64 as its subject
		},
		Links: Links{
			Children: map[string][]string{deployedIndex: {amd64, arm64}, pr7: {amd64, pr7Only}},
			Subjects: map[string]string{sbom: arm64},
		},
	}
	policy := Policy{
		Delete: []DeleteRule{{TagRegex: regexp.MustCompile("^pr-")}},
		Images: []Image{{Reference: ref, Repository: "app", Digest: deployedIndex}},
	}
	out := Evaluate(repo, policy, testNow)
	byDigest := map[string]Decision{}
	for _, d := range out.Decisions {
		byDigest[d.Digest] = d
	}
	for _, kept := range []string{deployedIndex, amd64, arm64, sbom} {
		for _, d := range out.Decisions {
			if d.Digest == kept && d.Action == DeleteManifest || slices.Contains(d.Children, kept) || slices.Contains(d.Referrers, kept) {
				t.Errorf("%s, which the deployed index reaches, is deleted:\n%s", kept, showDecisions(out.Decisions))
			}
		}
	}
	// pr-7 goes, with the child only it lists.
	if d := byDigest[pr7]; d.Action != DeleteManifest || !slices.Equal(d.Children, []string{pr7Only}) {
		t.Errorf("pr-7: %+v, want its manifest deleted with %s only", d, pr7Only)
	}
	// The tags go, the manifests stay, and the reason names the image.
	for _, digest := range []string{amd64, sbom} {
		d := byDigest[digest]
		if d.Action != Untag || !strings.Contains(d.Reason, "deployed image(s) "+ref+" use it") {
			t.Errorf("%s: %+v, want an untag naming %s", digest, d, ref)
		}
	}
	if len(out.Decisions) != 3 {
		t.Errorf("%d decisions, want 3:\n%s", len(out.Decisions), showDecisions(out.Decisions))
	}
}

// Explicit deletions keep what stays by the same rule: a tag that stays
// keeps what Reach gives, and Survivors, KeptBy and the policy agree.
func TestSurvivorsFollowTheSameRule(t *testing.T) {
	index, child, sig, subject := dig(1), dig(2), dig(3), dig(4)
	repo := Repository{Name: "app",
		Tags:  []Tag{{Name: "multi", Digest: index}, {Name: "signed", Digest: sig}},
		Links: Links{Children: map[string][]string{index: {child}}, Subjects: map[string]string{sig: subject}}}
	got := slices.Sorted(maps.Keys(repo.Survivors(nil)))
	want := []string{index, child, sig, subject}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Survivors = %q, want %q", got, want)
	}
	if !repo.KeptBy(repo.Tags[0], child) || !repo.KeptBy(repo.Tags[1], subject) {
		t.Error("KeptBy disagrees with Survivors")
	}
}
