package retention

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// testNow is the clock of every test: created times are relative to it.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// dig is the n-th test digest, "sha256:" and 64 hex characters.
func dig(n int) string { return fmt.Sprintf("sha256:%064x", n) }

// ago is the created time of an image built d before testNow.
func ago(d time.Duration) time.Time { return testNow.Add(-d) }

// referrer is a fallback referrer tag of subject: suffix "" is the OCI
// referrers index, ".sig" a cosign signature, and so on.
func referrer(subject, suffix string) string { return strings.Replace(subject, ":", "-", 1) + suffix }

// deletedTags lists every tag the decisions remove, sorted.
func deletedTags(decisions []Decision) []string {
	var out []string
	for _, d := range decisions {
		out = append(out, d.Tags...)
	}
	slices.Sort(out)
	return out
}

func showDecisions(decisions []Decision) string {
	if len(decisions) == 0 {
		return "  (none)\n"
	}
	var b strings.Builder
	for _, d := range decisions {
		fmt.Fprintf(&b, "  %s %s tags=%q referrers=%q children=%q\n    reason=%q\n",
			d.Action, short(d.Digest), d.Tags, shortAll(d.Referrers), shortAll(d.Children), d.Reason)
	}
	return b.String()
}

func short(digest string) string {
	if s, ok := strings.CutPrefix(digest, "sha256:"); ok {
		return "sha256:…" + strings.TrimLeft(s, "0")
	}
	return digest
}

func shortAll(digests []string) []string {
	var out []string
	for _, d := range digests {
		out = append(out, short(d))
	}
	return out
}

// TestDecideSelection checks which tags the keep and delete rules select.
// Each tag is on a digest of its own, so every deleted tag is a manifest
// deletion and the deleted tags are the whole answer.
func TestDecideSelection(t *testing.T) {
	type tag struct {
		name string
		age  time.Duration // 0: unknown age
	}
	deleteAll := []DeleteRule{{}}
	re := regexp.MustCompile
	for _, tc := range []struct {
		name   string
		tags   []tag
		policy Policy
		want   []string // deleted tags, sorted
	}{
		{
			name: "newest by semver with versions out of order",
			tags: []tag{{"v1.2.0", day}, {"latest", day}, {"1.10.0", day}, {"v1.9.3", day}, {"2.0.0-rc.1", day}, {"2.0.0", day}, {"abc", day}},
			policy: Policy{
				Keep:   []KeepRule{{Newest: 3, OrderBy: BySemver}},
				Delete: deleteAll,
			},
			want: []string{"abc", "latest", "v1.2.0", "v1.9.3"},
		},
		{
			name: "newest by semver among a regex: pre-releases left out",
			tags: []tag{{"v1.2.0", day}, {"latest", day}, {"1.10.0", day}, {"v1.9.3", day}, {"2.0.0-rc.1", day}},
			policy: Policy{
				Keep:   []KeepRule{{TagRegex: re(`^v?\d+\.\d+\.\d+$`), Newest: 2, OrderBy: BySemver}},
				Delete: deleteAll,
			},
			want: []string{"2.0.0-rc.1", "latest", "v1.2.0"},
		},
		{
			name: "newest by semver: non-versions rank below every version, by name",
			tags: []tag{{"zeta", day}, {"0.0.1", 9 * day}, {"alpha", day}},
			policy: Policy{
				Keep:   []KeepRule{{Newest: 2, OrderBy: BySemver}},
				Delete: deleteAll,
			},
			want: []string{"zeta"},
		},
		{
			name: "newest by created (the default order), ties by name, unknown age last",
			tags: []tag{{"old", 10 * day}, {"unknown", 0}, {"mid-b", day}, {"new", time.Hour}, {"mid-a", day}},
			policy: Policy{
				Keep:   []KeepRule{{Newest: 2}},
				Delete: deleteAll,
			},
			want: []string{"mid-b", "old", "unknown"},
		},
		{
			name: "newest by created counts unknown age when there is room",
			tags: []tag{{"known", day}, {"unknown", 0}},
			policy: Policy{
				Keep:   []KeepRule{{Newest: 3, OrderBy: ByCreated}},
				Delete: deleteAll,
			},
			want: nil,
		},
		{
			name: "newest by name keeps the greatest names",
			tags: []tag{{"build-010", day}, {"build-001", day}, {"build-100", day}, {"build-002", day}},
			policy: Policy{
				Keep:   []KeepRule{{Newest: 2, OrderBy: ByName}},
				Delete: deleteAll,
			},
			want: []string{"build-001", "build-002"},
		},
		{
			name: "newer_than keeps images younger than the duration, and of unknown age",
			tags: []tag{{"hour", time.Hour}, {"almost", 47 * time.Hour}, {"exactly", 48 * time.Hour}, {"older", 49 * time.Hour}, {"unknown", 0}},
			policy: Policy{
				Keep:   []KeepRule{{NewerThan: 48 * time.Hour}},
				Delete: deleteAll,
			},
			want: []string{"exactly", "older"},
		},
		{
			name: "older_than deletes images older than the duration, never unknown age",
			tags: []tag{{"day", day}, {"exactly", 7 * day}, {"week-and-a-bit", 7*day + time.Minute}, {"month", 30 * day}, {"unknown", 0}},
			policy: Policy{
				Delete: []DeleteRule{{OlderThan: 7 * day}},
			},
			want: []string{"month", "week-and-a-bit"},
		},
		{
			name: "newest and newer_than in one rule keep their union",
			tags: []tag{{"1.0.0", time.Hour}, {"2.0.0", 30 * day}, {"1.5.0", 10 * day}, {"0.9.0", 2 * time.Hour}},
			policy: Policy{
				Keep:   []KeepRule{{Newest: 1, OrderBy: BySemver, NewerThan: 2 * day}},
				Delete: deleteAll,
			},
			want: []string{"1.5.0"},
		},
		{
			name: "a regex narrows both newest and newer_than",
			tags: []tag{{"v1.0.0", 10 * day}, {"v2.0.0", 20 * day}, {"main", time.Hour}, {"v0.1.0", time.Hour}},
			policy: Policy{
				Keep:   []KeepRule{{TagRegex: re(`^v`), Newest: 1, OrderBy: BySemver, NewerThan: 2 * day}},
				Delete: deleteAll,
			},
			want: []string{"main", "v1.0.0"},
		},
		{
			name: "keep rules add up",
			tags: []tag{{"release-1", 30 * day}, {"release-2", 30 * day}, {"main", 30 * day}, {"dev", time.Hour}, {"pr-1", 30 * day}},
			policy: Policy{
				Keep: []KeepRule{
					{TagRegex: re(`^release-`), Newest: 1, OrderBy: ByName},
					{Tags: []string{"main"}},
					{NewerThan: day},
				},
				Delete: deleteAll,
			},
			want: []string{"pr-1", "release-1"},
		},
		{
			name: "exact tags keep only those names",
			tags: []tag{{"latest", day}, {"stable", day}, {"latest-old", day}, {"dev", day}},
			policy: Policy{
				Keep:   []KeepRule{{Tags: []string{"latest", "stable", "missing"}}},
				Delete: deleteAll,
			},
			want: []string{"dev", "latest-old"},
		},
		{
			name: "exact tags and a regex in one rule add up",
			tags: []tag{{"latest", day}, {"v1", day}, {"dev", day}},
			policy: Policy{
				Keep:   []KeepRule{{Tags: []string{"latest"}, TagRegex: re(`^v`)}},
				Delete: deleteAll,
			},
			want: []string{"dev"},
		},
		{
			name: "a tag matched by a keep regex and a delete regex is kept",
			tags: []tag{{"v1", day}, {"pr-1", day}, {"main", day}},
			policy: Policy{
				Keep:   []KeepRule{{TagRegex: re(`^v`)}},
				Delete: []DeleteRule{{TagRegex: re(`^(v|pr-)`)}},
			},
			want: []string{"pr-1"},
		},
		{
			name: "a delete rule with two conditions needs both",
			tags: []tag{{"pr-old", 10 * day}, {"pr-new", day}, {"pr-unknown", 0}, {"main-old", 10 * day}},
			policy: Policy{
				Delete: []DeleteRule{{TagRegex: re(`^pr-`), OlderThan: 7 * day}},
			},
			want: []string{"pr-old"},
		},
		{
			name: "delete rules add up",
			tags: []tag{{"pr-1", day}, {"old", 10 * day}, {"main", day}},
			policy: Policy{
				Delete: []DeleteRule{{TagRegex: re(`^pr-`)}, {OlderThan: 7 * day}},
			},
			want: []string{"old", "pr-1"},
		},
		{
			name: "an empty delete rule deletes every tag not kept",
			tags: []tag{{"main", day}, {"a", day}, {"b", 90 * day}, {"unknown", 0}},
			policy: Policy{
				Keep:   []KeepRule{{Tags: []string{"main"}}},
				Delete: deleteAll,
			},
			want: []string{"a", "b", "unknown"},
		},
		{
			name:   "no delete rule deletes nothing",
			tags:   []tag{{"a", day}, {"b", 90 * day}},
			policy: Policy{},
			want:   nil,
		},
		{
			name: "unknown age is never deleted by age alone",
			tags: []tag{{"old", 10 * day}, {"unknown", 0}, {"pr-unknown", 0}},
			policy: Policy{
				Delete: []DeleteRule{{OlderThan: day}, {TagRegex: re(`^pr-`), OlderThan: time.Hour}},
			},
			want: []string{"old"},
		},
		{
			name: "unknown age is deleted by a pure regex rule",
			tags: []tag{{"old", 10 * day}, {"unknown", 0}, {"pr-unknown", 0}},
			policy: Policy{
				Delete: []DeleteRule{{TagRegex: re(`^pr-`)}},
			},
			want: []string{"pr-unknown"},
		},
		{
			name: "unknown age is kept by newer_than: when in doubt, keep",
			tags: []tag{{"new", time.Hour}, {"old", 10 * day}, {"unknown", 0}},
			policy: Policy{
				Keep:   []KeepRule{{NewerThan: day}},
				Delete: deleteAll,
			},
			want: []string{"old"},
		},
		{
			name: "unknown age is kept by newer_than only where the block's tag_regex matches",
			tags: []tag{{"v1-unknown", 0}, {"pr-unknown", 0}, {"v1-old", 10 * day}},
			policy: Policy{
				Keep:   []KeepRule{{TagRegex: re(`^v`), NewerThan: day}},
				Delete: deleteAll,
			},
			want: []string{"pr-unknown", "v1-old"},
		},
		{
			name: "unknown age is kept by newer_than beside newest by created, which ranks it last",
			tags: []tag{{"new", time.Hour}, {"old", 10 * day}, {"unknown", 0}},
			policy: Policy{
				Keep:   []KeepRule{{Newest: 1, NewerThan: time.Minute}},
				Delete: deleteAll,
			},
			want: []string{"old"},
		},
		{
			name: "unknown age is not kept by newest alone",
			tags: []tag{{"new", time.Hour}, {"old", 10 * day}, {"unknown", 0}},
			policy: Policy{
				Keep:   []KeepRule{{Newest: 2}},
				Delete: deleteAll,
			},
			want: []string{"unknown"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := Repository{Name: "app"}
			for i, tg := range tc.tags {
				var created time.Time
				if tg.age != 0 {
					created = ago(tg.age)
				}
				repo.Tags = append(repo.Tags, Tag{Name: tg.name, Digest: dig(i + 1), Created: created})
			}
			got := Evaluate(repo, tc.policy, testNow).Decisions
			if names := deletedTags(got); !slices.Equal(names, tc.want) {
				t.Fatalf("deleted %q, want %q; decisions:\n%s", names, tc.want, showDecisions(got))
			}
			for _, d := range got {
				if d.Action != DeleteManifest || len(d.Tags) != 1 || d.Repository != "app" {
					t.Errorf("each tag is alone on its digest, want a manifest deletion in app, got:\n%s", showDecisions([]Decision{d}))
				}
			}
		})
	}
}

// TestDecideManifests checks the whole decisions: what happens to each
// digest, its index children and referrers, and the reasons.
func TestDecideManifests(t *testing.T) {
	re := regexp.MustCompile
	prs := []DeleteRule{{TagRegex: re(`^pr-`)}}
	const prReason = `delete[0] (tag_regex "^pr-")`
	keepMain := []KeepRule{{Tags: []string{"main"}}}
	var (
		image, image2, index, index2 = dig(1), dig(2), dig(3), dig(4)
		child1, child2, child3       = dig(11), dig(12), dig(13)
		sig, att, fallback           = dig(21), dig(22), dig(23)
		sbom1, sbom2, childSig       = dig(24), dig(25), dig(26)
	)
	for _, tc := range []struct {
		name   string
		repo   Repository
		policy Policy
		want   []Decision
	}{
		{
			name: "a digest with a kept tag is only untagged",
			repo: Repository{Tags: []Tag{
				{Name: "main", Digest: image, Created: ago(day)},
				{Name: "pr-1", Digest: image, Created: ago(day)},
				{Name: "pr-2", Digest: image2, Created: ago(day)},
			}},
			policy: Policy{Keep: keepMain, Delete: []DeleteRule{{}}},
			want: []Decision{
				{Repository: "app", Digest: image, Action: Untag, Tags: []string{"pr-1"},
					Reason: "delete[0] (every tag not kept); the digest stays: kept tag(s) main point at it"},
				{Repository: "app", Digest: image2, Action: DeleteManifest, Tags: []string{"pr-2"},
					Reason: "delete[0] (every tag not kept)"},
			},
		},
		{
			name: "a tag that no rule matches also keeps its digest",
			repo: Repository{Tags: []Tag{
				{Name: "dev", Digest: image},
				{Name: "pr-1", Digest: image},
			}},
			policy: Policy{Delete: prs},
			want: []Decision{
				{Repository: "app", Digest: image, Action: Untag, Tags: []string{"pr-1"},
					Reason: prReason + "; the digest stays: kept tag(s) dev point at it"},
			},
		},
		{
			name: "every tag of a digest deleted deletes the manifest",
			repo: Repository{Tags: []Tag{
				{Name: "pr-2", Digest: image},
				{Name: "pr-1", Digest: image},
				{Name: "main", Digest: image2},
			}},
			policy: Policy{Delete: prs},
			want: []Decision{
				{Repository: "app", Digest: image, Action: DeleteManifest, Tags: []string{"pr-1", "pr-2"}, Reason: prReason},
			},
		},
		{
			name: "tags deleted by two rules name both, in rule order",
			repo: Repository{Tags: []Tag{
				{Name: "pr-1", Digest: image, Created: ago(time.Hour)},
				{Name: "old", Digest: image, Created: ago(time.Hour)},
				{Name: "ancient", Digest: image2, Created: ago(90 * day)},
				{Name: "pr-2", Digest: image2, Created: ago(90 * day)},
			}},
			policy: Policy{Delete: []DeleteRule{{TagRegex: re(`^pr-`)}, {TagRegex: re(`^(old|ancient)$`), OlderThan: 0}, {OlderThan: 30 * day}}},
			want: []Decision{
				{Repository: "app", Digest: image, Action: DeleteManifest, Tags: []string{"old", "pr-1"},
					Reason: `delete[0] (tag_regex "^pr-"); delete[1] (tag_regex "^(old|ancient)$")`},
				{Repository: "app", Digest: image2, Action: DeleteManifest, Tags: []string{"ancient", "pr-2"},
					Reason: `delete[0] (tag_regex "^pr-"); delete[1] (tag_regex "^(old|ancient)$")`},
			},
		},
		{
			name: "a multi-arch index goes with its children, except one a kept index shares",
			repo: Repository{
				Tags: []Tag{
					{Name: "pr-1", Digest: index},
					{Name: "main", Digest: index2},
				},
				Links: Links{Children: map[string][]string{
					index:  {child1, child2},
					index2: {child2, child3},
				}},
			},
			policy: Policy{Keep: keepMain, Delete: []DeleteRule{{}}},
			want: []Decision{
				{Repository: "app", Digest: index, Action: DeleteManifest, Tags: []string{"pr-1"}, Children: []string{child1},
					Reason: "delete[0] (every tag not kept)"},
			},
		},
		{
			name: "a deleted index's child that is tagged and kept stays",
			repo: Repository{
				Tags: []Tag{
					{Name: "pr-1", Digest: index},
					{Name: "amd64", Digest: child1},
				},
				Links: Links{Children: map[string][]string{index: {child1, child2}}},
			},
			policy: Policy{Delete: prs},
			want: []Decision{
				{Repository: "app", Digest: index, Action: DeleteManifest, Tags: []string{"pr-1"}, Children: []string{child2}, Reason: prReason},
			},
		},
		{
			name: "a child of a kept index is only untagged",
			repo: Repository{
				Tags: []Tag{
					{Name: "main", Digest: index},
					{Name: "pr-1-amd64", Digest: child1},
				},
				Links: Links{Children: map[string][]string{index: {child1, child2}}},
			},
			policy: Policy{Delete: prs},
			want: []Decision{
				{Repository: "app", Digest: child1, Action: Untag, Tags: []string{"pr-1-amd64"},
					Reason: prReason + "; the digest stays: a kept index or referrer uses it"},
			},
		},
		{
			name: "a child of a kept nested index stays",
			repo: Repository{
				Tags: []Tag{
					{Name: "main", Digest: index},
					{Name: "pr-1", Digest: index2},
					{Name: "pr-2", Digest: image},
				},
				// index lists index2, which lists child1; image lists child1 too.
				Links: Links{Children: map[string][]string{index: {index2}, index2: {child1}, image: {child1, child2}}},
			},
			policy: Policy{Delete: prs},
			want: []Decision{
				{Repository: "app", Digest: image, Action: DeleteManifest, Tags: []string{"pr-2"}, Children: []string{child2}, Reason: prReason},
				{Repository: "app", Digest: index2, Action: Untag, Tags: []string{"pr-1"},
					Reason: prReason + "; the digest stays: a kept index or referrer uses it"},
			},
		},
		{
			name: "referrers follow their subject when asked",
			repo: Repository{
				Tags: []Tag{
					{Name: "pr-1", Digest: image},
					{Name: referrer(image, ".sig"), Digest: sig},
					{Name: referrer(image, ".att"), Digest: att},
					{Name: referrer(image, ""), Digest: fallback},
					{Name: "main", Digest: image2},
					{Name: referrer(image2, ".sig"), Digest: dig(27)},
				},
				Links: Links{Children: map[string][]string{fallback: {sbom1, sbom2}}},
			},
			policy: Policy{Delete: prs, DeleteReferrers: true},
			want: []Decision{
				{Repository: "app", Digest: image, Action: DeleteManifest,
					Tags:      []string{"pr-1", referrer(image, ""), referrer(image, ".att"), referrer(image, ".sig")},
					Referrers: []string{sig, att, fallback, sbom1, sbom2},
					Reason:    prReason},
			},
		},
		{
			name: "referrers of a deleted index's children follow it, once",
			repo: Repository{
				Tags: []Tag{
					{Name: "pr-1", Digest: index},
					{Name: "pr-2", Digest: index2},
					{Name: referrer(child1, ".sig"), Digest: childSig},
				},
				Links: Links{Children: map[string][]string{index: {child1, child2}, index2: {child1}}},
			},
			policy: Policy{Delete: prs, DeleteReferrers: true},
			want: []Decision{
				{Repository: "app", Digest: index, Action: DeleteManifest, Tags: []string{"pr-1", referrer(child1, ".sig")},
					Referrers: []string{childSig}, Children: []string{child1, child2}, Reason: prReason},
				{Repository: "app", Digest: index2, Action: DeleteManifest, Tags: []string{"pr-2"},
					Children: []string{child1}, Reason: prReason},
			},
		},
		{
			name: "referrers of a deleted tagged child go with the child's own deletion",
			repo: Repository{
				Tags: []Tag{
					{Name: "pr-1", Digest: index},
					{Name: "pr-1-amd64", Digest: child1},
					{Name: referrer(child1, ".sig"), Digest: childSig},
				},
				Links: Links{Children: map[string][]string{index: {child1}}},
			},
			policy: Policy{Delete: prs, DeleteReferrers: true},
			want: []Decision{
				{Repository: "app", Digest: index, Action: DeleteManifest, Tags: []string{"pr-1"},
					Children: []string{child1}, Reason: prReason},
				{Repository: "app", Digest: child1, Action: DeleteManifest, Tags: []string{"pr-1-amd64", referrer(child1, ".sig")},
					Referrers: []string{childSig}, Reason: prReason},
			},
		},
		{
			name: "a referrer that stays keeps what it points at",
			repo: Repository{Tags: []Tag{
				{Name: "main", Digest: image2},
				{Name: referrer(image2, ".sig"), Digest: image}, // the signature also has a tag
				{Name: "pr-1", Digest: image},
			}},
			policy: Policy{Delete: prs, DeleteReferrers: true},
			want: []Decision{
				{Repository: "app", Digest: image, Action: Untag, Tags: []string{"pr-1"},
					Reason: prReason + "; the digest stays: a kept index or referrer uses it"},
			},
		},
		{
			name: "a referrer whose manifest is kept stays, though its subject goes",
			repo: Repository{Tags: []Tag{
				{Name: "pr-1", Digest: image},
				{Name: referrer(image, ".sig"), Digest: image2},
				{Name: referrer(image, ".att"), Digest: att},
				{Name: "main", Digest: image2},
			}},
			policy: Policy{Delete: prs, DeleteReferrers: true},
			want: []Decision{
				{Repository: "app", Digest: image, Action: DeleteManifest, Tags: []string{"pr-1", referrer(image, ".att")},
					Referrers: []string{att}, Reason: prReason},
			},
		},
		{
			name: "a tagged referrer that stays keeps the subject its body names",
			repo: Repository{
				Tags: []Tag{
					{Name: "pr-1", Digest: image},
					{Name: "attestation", Digest: att}, // kept: no rule matches it
				},
				Links: Links{Subjects: map[string]string{att: image}},
			},
			policy: Policy{Delete: prs, DeleteReferrers: true},
			want: []Decision{
				{Repository: "app", Digest: image, Action: Untag, Tags: []string{"pr-1"},
					Reason: prReason + "; the digest stays: a kept index or referrer uses it"},
			},
		},
		{
			name: "referrers of a subject that is gone are deleted, named by their reason",
			repo: Repository{
				Tags: []Tag{
					{Name: "main", Digest: image2},
					{Name: referrer(image, ".sig"), Digest: sig},
					{Name: referrer(image, ""), Digest: fallback},
					{Name: referrer(dig(40), ".sig"), Digest: dig(41)}, // its subject exists untagged
				},
				Links:        Links{Children: map[string][]string{fallback: {sbom1}}},
				GoneSubjects: map[string]bool{image: true},
			},
			policy: Policy{Delete: prs, DeleteReferrers: true},
			want: []Decision{
				{Repository: "app", Digest: sig, Action: DeleteManifest, Tags: []string{referrer(image, ".sig")},
					Reason: "referrer of " + image + ", which no longer exists (delete_referrers)"},
				{Repository: "app", Digest: fallback, Action: DeleteManifest, Tags: []string{referrer(image, "")}, Children: []string{sbom1},
					Reason: "referrer of " + image + ", which no longer exists (delete_referrers)"},
			},
		},
		{
			name: "referrers of a subject that is gone stay when not asked",
			repo: Repository{
				Tags:         []Tag{{Name: referrer(image, ".sig"), Digest: sig}},
				GoneSubjects: map[string]bool{image: true},
			},
			policy: Policy{Delete: prs},
		},
		{
			name: "referrers stay when not asked",
			repo: Repository{Tags: []Tag{
				{Name: "pr-1", Digest: image},
				{Name: referrer(image, ".sig"), Digest: sig},
			}},
			policy: Policy{Delete: prs},
			want: []Decision{
				{Repository: "app", Digest: image, Action: DeleteManifest, Tags: []string{"pr-1"}, Reason: prReason},
			},
		},
		{
			name: "referrers of a kept subject stay and are not untagged",
			repo: Repository{Tags: []Tag{
				{Name: "main", Digest: image},
				{Name: "pr-1", Digest: image},
				{Name: referrer(image, ".sig"), Digest: sig},
			}},
			policy: Policy{Keep: keepMain, Delete: []DeleteRule{{}}, DeleteReferrers: true},
			want: []Decision{
				{Repository: "app", Digest: image, Action: Untag, Tags: []string{"pr-1"},
					Reason: "delete[0] (every tag not kept); the digest stays: kept tag(s) main point at it"},
			},
		},
		{
			name: "referrer tags are never matched by a delete rule, even an empty one",
			repo: Repository{Tags: []Tag{
				{Name: "main", Digest: image, Created: ago(90 * day)},
				{Name: referrer(image, ".sig"), Digest: sig, Created: ago(90 * day)},
				{Name: referrer(dig(99), ".sig"), Digest: att, Created: ago(90 * day)}, // its subject is gone
			}},
			policy: Policy{
				Keep:            keepMain,
				Delete:          []DeleteRule{{}, {TagRegex: re(`^sha256-`)}, {OlderThan: day}},
				DeleteReferrers: true,
			},
			want: nil,
		},
		{
			name: "a keep rule naming a referrer tag does not keep it from its subject",
			repo: Repository{Tags: []Tag{
				{Name: "pr-1", Digest: image},
				{Name: referrer(image, ".sig"), Digest: sig},
			}},
			policy: Policy{
				Keep:            []KeepRule{{Tags: []string{referrer(image, ".sig")}}},
				Delete:          prs,
				DeleteReferrers: true,
			},
			want: []Decision{
				{Repository: "app", Digest: image, Action: DeleteManifest, Tags: []string{"pr-1", referrer(image, ".sig")},
					Referrers: []string{sig}, Reason: prReason},
			},
		},
		{
			name: "referrer tags are not counted by newest",
			repo: Repository{Tags: []Tag{
				{Name: "v1", Digest: image, Created: ago(2 * day)},
				{Name: "v2", Digest: image2, Created: ago(day)},
				{Name: referrer(image, ".sig"), Digest: sig, Created: ago(time.Minute)},
				{Name: referrer(image2, ".sig"), Digest: att, Created: ago(time.Minute)},
			}},
			policy: Policy{Keep: []KeepRule{{Newest: 1}}, Delete: []DeleteRule{{}}},
			want: []Decision{
				{Repository: "app", Digest: image, Action: DeleteManifest, Tags: []string{"v1"}, Reason: "delete[0] (every tag not kept)"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.repo.Name = "app"
			got := Evaluate(tc.repo, tc.policy, testNow).Decisions
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got:\n%swant:\n%s", showDecisions(got), showDecisions(tc.want))
			}
			// The order of the tags in the snapshot never matters.
			shuffled := tc.repo
			shuffled.Tags = slices.Clone(tc.repo.Tags)
			slices.Reverse(shuffled.Tags)
			if again := Evaluate(shuffled, tc.policy, testNow).Decisions; !reflect.DeepEqual(again, got) {
				t.Fatalf("reversed tags changed the decisions:\n%swas:\n%s", showDecisions(again), showDecisions(got))
			}
		})
	}
}

// Review 48: referrers of referrers, as oras attach writes them on a
// registry without the referrers API (an SBOM of an image, a signature of
// the SBOM, each listed by an OCI fallback index "sha256-<subject>"), and
// a cosign signature of that signature, follow the deleted image to any
// depth, subjects before their referrers; a referrer kept at any depth
// stays, with the subjects its body names.
func TestDecideReferrersToAnyDepth(t *testing.T) {
	prs := []DeleteRule{{TagRegex: regexp.MustCompile(`^pr-`)}}
	const prReason = `delete[0] (tag_regex "^pr-")`
	// Digests chosen so that sorting them would put deeper referrers first.
	var (
		image, kept           = dig(0x70), dig(0x71)
		fbImage, sbom         = dig(0x62), dig(0x63) // sha256-<image> lists sbom
		fbSBOM, sig, sigOfSig = dig(0x41), dig(0x42), dig(0x30)
	)
	tags := func(extra ...Tag) []Tag {
		return append([]Tag{
			{Name: "pr-1", Digest: image},
			{Name: "main", Digest: kept},
			{Name: referrer(image, ""), Digest: fbImage},
			{Name: referrer(sbom, ""), Digest: fbSBOM},
			{Name: referrer(sig, ".sig"), Digest: sigOfSig},
		}, extra...)
	}
	children := map[string][]string{fbImage: {sbom}, fbSBOM: {sig}}
	chain := map[string]string{sig: sbom, sbom: image} // what the bodies name
	deployedSig := "registry.example.com/app@" + sig
	for _, tc := range []struct {
		name   string
		repo   Repository
		policy Policy
		want   []Decision
	}{
		{
			name:   "referrers of referrers follow the image, subjects first",
			repo:   Repository{Tags: tags(), Links: Links{Children: children}},
			policy: Policy{Delete: prs, DeleteReferrers: true},
			want: []Decision{
				{Repository: "app", Digest: image, Action: DeleteManifest,
					Tags:      []string{"pr-1", referrer(sig, ".sig"), referrer(sbom, ""), referrer(image, "")},
					Referrers: []string{fbImage, sbom, fbSBOM, sig, sigOfSig}, Reason: prReason},
			},
		},
		{
			name:   "referrers of referrers stay when not asked",
			repo:   Repository{Tags: tags(), Links: Links{Children: children}},
			policy: Policy{Delete: prs},
			want: []Decision{
				{Repository: "app", Digest: image, Action: DeleteManifest, Tags: []string{"pr-1"}, Reason: prReason},
			},
		},
		{
			name:   "a signature of the SBOM kept by a tag keeps the SBOM and the image its body names",
			repo:   Repository{Tags: tags(Tag{Name: "signature", Digest: sig}), Links: Links{Children: children, Subjects: chain}},
			policy: Policy{Delete: prs, DeleteReferrers: true},
			want: []Decision{
				{Repository: "app", Digest: image, Action: Untag, Tags: []string{"pr-1"},
					Reason: prReason + "; the digest stays: a kept index or referrer uses it"},
			},
		},
		{
			name: "a signature of the SBOM that a deployed image pins keeps the SBOM and the image",
			repo: Repository{Tags: tags(), Links: Links{Children: children, Subjects: chain}},
			policy: Policy{Delete: prs, DeleteReferrers: true,
				Images: []Image{{Reference: deployedSig, Repository: "app", Digest: sig}}},
			want: []Decision{
				{Repository: "app", Digest: image, Action: Untag, Tags: []string{"pr-1"},
					Reason: prReason + "; the digest stays: deployed image(s) " + deployedSig + " use it"},
			},
		},
		{
			name:   "a signature kept by a tag whose body names nothing stays, with its own signature; the rest follows",
			repo:   Repository{Tags: tags(Tag{Name: "signature", Digest: sig}), Links: Links{Children: children}},
			policy: Policy{Delete: prs, DeleteReferrers: true},
			want: []Decision{
				{Repository: "app", Digest: image, Action: DeleteManifest,
					Tags:      []string{"pr-1", referrer(sbom, ""), referrer(image, "")},
					Referrers: []string{fbImage, sbom, fbSBOM}, Reason: prReason},
			},
		},
		{
			name: "referrers of referrers of a subject that is gone are deleted with its fallback index",
			repo: Repository{
				Tags:         slices.DeleteFunc(tags(), func(t Tag) bool { return t.Name == "pr-1" }),
				Links:        Links{Children: children},
				GoneSubjects: map[string]bool{image: true},
			},
			policy: Policy{Delete: prs, DeleteReferrers: true},
			want: []Decision{
				{Repository: "app", Digest: fbImage, Action: DeleteManifest,
					Tags:     []string{referrer(sig, ".sig"), referrer(sbom, ""), referrer(image, "")},
					Children: []string{sbom}, Referrers: []string{fbSBOM, sig, sigOfSig},
					Reason: "referrer of " + image + ", which no longer exists (delete_referrers)"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.repo.Name = "app"
			got := Evaluate(tc.repo, tc.policy, testNow).Decisions
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got:\n%swant:\n%s", showDecisions(got), showDecisions(tc.want))
			}
			shuffled := tc.repo
			shuffled.Tags = slices.Clone(tc.repo.Tags)
			slices.Reverse(shuffled.Tags)
			if again := Evaluate(shuffled, tc.policy, testNow).Decisions; !reflect.DeepEqual(again, got) {
				t.Fatalf("reversed tags changed the decisions:\n%swas:\n%s", showDecisions(again), showDecisions(got))
			}
		})
	}
}

func TestDecideReasons(t *testing.T) {
	re := regexp.MustCompile
	for _, tc := range []struct {
		rule DeleteRule
		want string
	}{
		{DeleteRule{}, "delete[0] (every tag not kept)"},
		{DeleteRule{TagRegex: re(`^pr-`)}, `delete[0] (tag_regex "^pr-")`},
		{DeleteRule{OlderThan: 7 * day}, "delete[0] (older_than 168h0m0s)"},
		{DeleteRule{TagRegex: re(`^pr-`), OlderThan: day}, `delete[0] (tag_regex "^pr-", older_than 24h0m0s)`},
	} {
		repo := Repository{Name: "app", Tags: []Tag{{Name: "pr-1", Digest: dig(1), Created: ago(30 * day)}}}
		got := Evaluate(repo, Policy{Delete: []DeleteRule{tc.rule}}, testNow).Decisions
		if len(got) != 1 || got[0].Reason != tc.want {
			t.Errorf("reason for %s:\n%swant %q", tc.want, showDecisions(got), tc.want)
		}
	}
	// The first matching delete rule names the deletion.
	repo := Repository{Name: "app", Tags: []Tag{{Name: "pr-1", Digest: dig(1), Created: ago(30 * day)}}}
	got := Evaluate(repo, Policy{Delete: []DeleteRule{{TagRegex: re(`^main$`)}, {OlderThan: day}, {}}}, testNow).Decisions
	if want := "delete[1] (older_than 24h0m0s)"; len(got) != 1 || got[0].Reason != want {
		t.Errorf("first matching rule:\n%swant %q", showDecisions(got), want)
	}
}

// TestDecideDeterministic shuffles a snapshot with every kind of decision.
func TestDecideDeterministic(t *testing.T) {
	repo := Repository{
		Name: "app",
		Tags: []Tag{
			{Name: "main", Digest: dig(1), Created: ago(day)},
			{Name: "pr-1", Digest: dig(1), Created: ago(day)},
			{Name: "old", Digest: dig(1), Created: ago(day)},
			{Name: "pr-2", Digest: dig(2), Created: ago(40 * day)},
			{Name: "ancient", Digest: dig(2), Created: ago(40 * day)},
			{Name: "pr-3", Digest: dig(3)},
			{Name: referrer(dig(2), ".sig"), Digest: dig(21)},
			{Name: referrer(dig(2), ".att"), Digest: dig(22)},
			{Name: referrer(dig(11), ".sig"), Digest: dig(23)},
			{Name: referrer(dig(12), ".sig"), Digest: dig(24)},
		},
		Links: Links{Children: map[string][]string{dig(2): {dig(11), dig(12)}, dig(3): {dig(12), dig(13)}}},
	}
	policy := Policy{
		Keep:            []KeepRule{{Tags: []string{"main"}}},
		Delete:          []DeleteRule{{TagRegex: regexp.MustCompile(`^pr-`)}, {OlderThan: 30 * day}, {TagRegex: regexp.MustCompile(`^old$`)}},
		DeleteReferrers: true,
	}
	want := Evaluate(repo, policy, testNow).Decisions
	if len(want) != 3 {
		t.Fatalf("want 3 decisions, got:\n%s", showDecisions(want))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		shuffled := repo
		shuffled.Tags = slices.Clone(repo.Tags)
		rng.Shuffle(len(shuffled.Tags), func(i, j int) { shuffled.Tags[i], shuffled.Tags[j] = shuffled.Tags[j], shuffled.Tags[i] })
		if got := Evaluate(shuffled, policy, testNow).Decisions; !reflect.DeepEqual(got, want) {
			t.Fatalf("tags in another order:\n%swant:\n%s", showDecisions(got), showDecisions(want))
		}
	}
}

func TestNeedsCreated(t *testing.T) {
	re := regexp.MustCompile(`^v`)
	for _, tc := range []struct {
		name   string
		policy Policy
		want   bool
	}{
		{"no rules", Policy{}, false},
		{"keep tags", Policy{Keep: []KeepRule{{Tags: []string{"main"}}}}, false},
		{"keep regex", Policy{Keep: []KeepRule{{TagRegex: re}}}, false},
		{"keep newest by semver", Policy{Keep: []KeepRule{{Newest: 3, OrderBy: BySemver}}}, false},
		{"keep newest by name", Policy{Keep: []KeepRule{{Newest: 3, OrderBy: ByName}}}, false},
		{"keep newest by created", Policy{Keep: []KeepRule{{Newest: 3, OrderBy: ByCreated}}}, true},
		{"keep newest, created by default", Policy{Keep: []KeepRule{{Newest: 3}}}, true},
		{"order_by created without newest", Policy{Keep: []KeepRule{{TagRegex: re, OrderBy: ByCreated}}}, false},
		{"keep newer_than", Policy{Keep: []KeepRule{{NewerThan: day}}}, true},
		{"keep newest by semver or newer_than", Policy{Keep: []KeepRule{{Newest: 3, OrderBy: BySemver, NewerThan: day}}}, true},
		{"delete everything", Policy{Delete: []DeleteRule{{}}}, false},
		{"delete regex", Policy{Delete: []DeleteRule{{TagRegex: re}}}, false},
		{"delete older_than", Policy{Delete: []DeleteRule{{OlderThan: day}}}, true},
		{"delete regex and older_than", Policy{Delete: []DeleteRule{{TagRegex: re, OlderThan: day}}}, true},
		{"one rule of several", Policy{
			Keep:   []KeepRule{{Tags: []string{"main"}}, {Newest: 2, OrderBy: BySemver}},
			Delete: []DeleteRule{{TagRegex: re}, {OlderThan: day}},
		}, true},
	} {
		if got := tc.policy.NeedsCreated(); got != tc.want {
			t.Errorf("%s: NeedsCreated() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestKeptUnknownAge: a keep block with newer_than keeps the images of
// unknown age its tag_regex matches, and the outcome names those that a
// delete rule matches and nothing else keeps, for the plan to warn.
func TestKeptUnknownAge(t *testing.T) {
	re := regexp.MustCompile
	repo := Repository{Name: "app", Tags: []Tag{
		{Name: "v1.0.0", Digest: dig(1)},       // unknown age, kept only by newer_than: named
		{Name: "v1.0.0-extra", Digest: dig(1)}, // the same image, another tag: named too
		{Name: "v0.9.0", Digest: dig(2), Created: ago(90 * day)},
		{Name: "v0.8.0", Digest: dig(3)}, // unknown age, deployed: protected, not named
		{Name: "stable", Digest: dig(4)}, // unknown age, kept by name: not named
		{Name: "pr-1", Digest: dig(5)},   // unknown age, the keep block's regex does not match: deleted
		{Name: "v2.0.0", Digest: dig(6), Created: ago(time.Hour)},
		{Name: referrer(dig(1), ".sig"), Digest: dig(7)}, // a referrer follows its subject: not named
	}}
	policy := Policy{
		Keep: []KeepRule{
			{Tags: []string{"stable"}},
			{TagRegex: re(`^(v|stable)`), NewerThan: 30 * day},
		},
		Delete:          []DeleteRule{{}},
		DeleteReferrers: true,
		Images:          []Image{{Reference: "reg/app:v0.8.0", Repository: "app", Tag: "v0.8.0"}},
	}
	out := Evaluate(repo, policy, testNow)
	if got, want := deletedTags(out.Decisions), []string{"pr-1", "v0.9.0"}; !slices.Equal(got, want) {
		t.Errorf("deleted %q, want %q\n%s", got, want, showDecisions(out.Decisions))
	}
	if want := []string{"v1.0.0", "v1.0.0-extra"}; !slices.Equal(out.KeptUnknownAge, want) {
		t.Errorf("KeptUnknownAge = %q, want %q", out.KeptUnknownAge, want)
	}
	if len(out.Spared) != 1 || !slices.Equal(out.Spared[0].Tags, []string{"v0.8.0"}) {
		t.Errorf("spared %+v, want v0.8.0 (deployed)", out.Spared)
	}
	// An age-only delete rule never matches unknown age: nothing to warn.
	policy.Delete = []DeleteRule{{OlderThan: 30 * day}}
	if out := Evaluate(repo, policy, testNow); len(out.KeptUnknownAge) != 0 {
		t.Errorf("KeptUnknownAge = %q under an age-only delete rule, want none", out.KeptUnknownAge)
	}
}
