package registry

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A retention plan fetches only what its rules and the apply's checks
// need: a GET per tag when no rule looks at creation times (the round trip
// of a HEAD; the bodies name staying images' subjects and are the
// journal's copies of what an apply deletes, view.go), and nothing more;
// otherwise a GET per tag (never HEAD and GET) and each image config once
// per digest, however many tags share it.
func TestDecideRetentionFetchesOnlyWhatTheRulesNeed(t *testing.T) {
	reg := testregistry.Start(t)
	const images = 6 // each tagged v1.I.0 and build-I
	start := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	for i := range images {
		if _, err := reg.PushImage("need/app", start.Add(time.Duration(i)*time.Hour), fmt.Sprintf("v1.%d.0", i), fmt.Sprintf("build-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	url, n := countingProxy(t, reg.URL)
	for _, c := range []struct {
		order                retention.Order
		heads, gets, configs int64
		decisions            int
	}{
		// Kept: v1.5.0 and v1.4.0; build-5 and build-4 are untagged, the
		// other four digests deleted.
		{retention.BySemver, 0, 2 * images, 0, 6},
		// Kept: both tags of the newest image; the other five deleted.
		{retention.ByCreated, 0, 2 * images, images, 5},
	} {
		t.Run(string(c.order), func(t *testing.T) {
			n.reset()
			policy := retention.Policy{
				Keep:   []retention.KeepRule{{Newest: 2, OrderBy: c.order}},
				Delete: []retention.DeleteRule{{}},
			}
			client := newClient(t, Config{URL: url, MaxConcurrency: 4}) // no disk cache
			plan, err := client.DecideRetention(context.Background(), retention.Selection{Include: []*regexp.Regexp{regexp.MustCompile(`^need/app$`)}}, policy, start.Add(24*time.Hour))
			decisions := plan.Decisions
			if err != nil {
				t.Fatal(err)
			}
			if len(decisions) != c.decisions {
				t.Errorf("%d decisions, want %d: %+v", len(decisions), c.decisions, decisions)
			}
			if n.heads.Load() != c.heads || n.gets.Load() != c.gets || n.blobs.Load() != c.configs {
				t.Errorf("%d HEADs, %d GETs, %d configs; want %d, %d, %d",
					n.heads.Load(), n.gets.Load(), n.blobs.Load(), c.heads, c.gets, c.configs)
			}
		})
	}
}

// An image the registry holds only a part of (a child deleted by digest
// behind the provider's back, a config blob gone) is still tagged: the plan
// sees it with an unknown age, so age alone deletes none of it, what it
// lists stays, and the plan names it. Reading it as "untagged" once let an
// age rule delete the child a kept index still lists.
func TestDecideRetentionSeesIncompleteImages(t *testing.T) {
	reg := testregistry.Start(t)
	const repo = "broken/app"
	old := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	index, children, err := reg.PushIndex(repo, []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}, old, "release")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Tag(repo, children[1], "v1"); err != nil {
		t.Fatal(err)
	}
	if err := reg.DeleteManifest(repo, children[0]); err != nil {
		t.Fatal(err)
	}
	noConfig, err := reg.PushImage(repo, old, "no-config")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.DeleteBlob(repo, noConfig.ConfigDigest); err != nil {
		t.Fatal(err)
	}
	policy := retention.Policy{Delete: []retention.DeleteRule{{OlderThan: 7 * 24 * time.Hour}}}
	client := newClient(t, Config{URL: reg.URL, CacheDir: t.TempDir()})
	plan, err := client.DecideRetention(context.Background(), retention.Selection{Include: []*regexp.Regexp{regexp.MustCompile(`^broken/app$`)}}, policy, old.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	want := []retention.Decision{{Repository: repo, Digest: children[1].String(), Action: retention.Untag, Tags: []string{"v1"}}}
	if len(plan.Decisions) != 1 || plan.Decisions[0].Action != want[0].Action || plan.Decisions[0].Digest != want[0].Digest || !slices.Equal(plan.Decisions[0].Tags, want[0].Tags) {
		t.Errorf("decisions %+v, want only untag v1 (release still lists its digest)", plan.Decisions)
	}
	wantIncomplete := []string{
		fmt.Sprintf("%s:no-config (config blob %s is missing)", repo, noConfig.ConfigDigest),
		fmt.Sprintf("%s:release (child %s: the manifest is missing)", repo, children[0]),
	}
	if !slices.Equal(plan.Incomplete, wantIncomplete) {
		t.Errorf("incomplete %q, want %q", plan.Incomplete, wantIncomplete)
	}
	// Not kept for the next run: the missing part may be pushed again.
	known := client.packs.of(repo)
	for _, digest := range []v1.Hash{index, noConfig.Digest} {
		if _, ok := known[digest.String()]; ok {
			t.Errorf("the disk cache keeps the incomplete %s", digest)
		}
	}
}

// A tag whose manifest a DELETE removed while the tag was pushed onto it
// stays listed and resolves to nothing: the plan names it, and decides
// nothing about it (it keeps nothing, and no DELETE by digest removes it).
func TestDecideRetentionNamesDanglingTags(t *testing.T) {
	reg := testregistry.Start(t)
	old := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := reg.PushImage("app", old, "v1"); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"ghost", "ghost-2"} {
		if err := reg.DanglingTag("app", tag); err != nil {
			t.Fatal(err)
		}
	}
	policy := retention.Policy{Delete: []retention.DeleteRule{{OlderThan: 7 * 24 * time.Hour}}}
	client := newClient(t, Config{URL: reg.URL, CacheDir: t.TempDir()})
	plan, err := client.DecideRetention(context.Background(), retention.Selection{Include: []*regexp.Regexp{regexp.MustCompile(`^app$`)}}, policy, old.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"app:ghost", "app:ghost-2"}; !slices.Equal(plan.Dangling, want) {
		t.Errorf("dangling %q, want %q", plan.Dangling, want)
	}
	if len(plan.Decisions) != 1 || !slices.Equal(plan.Decisions[0].Tags, []string{"v1"}) {
		t.Errorf("decisions %+v, want only v1's image", plan.Decisions)
	}
}

// The plan reads what the apply checks: an attestation tagged
// "provenance" names pr-1's image as its subject, so the plan keeps it, as
// every apply would (a plan that never read image bodies planned it, each
// apply skipped it, and every plan showed the same update again).
func TestDecideRetentionReadsTheSubjectsTheApplyChecks(t *testing.T) {
	reg := testregistry.Start(t)
	subject, err := reg.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := reg.PushImage("app", time.Time{}, "pr-2")
	if err != nil {
		t.Fatal(err)
	}
	attestation, err := reg.PushUntaggedReferrer("app", subject.Digest, "att")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Tag("app", attestation, "provenance"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	plan := decideRepository(t, c, "app", retention.Policy{Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^pr-")}}})
	for _, d := range plan.Decisions {
		if d.Digest == subject.Digest.String() && d.Action != retention.Untag {
			t.Errorf("pr-1's image planned %s; want untag (provenance's subject stays)", d.Action)
		}
		if d.Digest == gone.Digest.String() && d.Action != retention.DeleteManifest {
			t.Errorf("pr-2's image planned %s; want delete_manifest", d.Action)
		}
	}
	if len(plan.Decisions) != 2 {
		t.Errorf("decisions %+v; want pr-1 untagged and pr-2 deleted", plan.Decisions)
	}
}
