package registry

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A pod's imageID is often an index digest whose tag has moved on. What
// that untagged index lists stays, whatever tags its children carry and
// whichever tagged index shares them: the plan reads its body, so neither
// the plan nor the apply deletes a child it lists (issue 30, loss path 1:
// the index answered 200, its child 404).
func TestDecideRetentionKeepsWhatAPinnedUntaggedIndexLists(t *testing.T) {
	reg := testregistry.Start(t)
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

	// The deployed index was "main"; main has moved on since.
	deployedIndex := func(t *testing.T, repo string) (v1.Hash, []v1.Hash) {
		index, children, err := reg.PushIndex(repo, platforms, created, "main")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created.Add(time.Hour), "main"); err != nil {
			t.Fatal(err)
		}
		return index, children
	}
	policyFor := func(repo string, index v1.Hash) retention.Policy {
		return retention.Policy{
			Delete:          []retention.DeleteRule{{TagRegex: regexp.MustCompile("^pr-")}},
			DeleteReferrers: true,
			Images:          []retention.Image{{Reference: "reg.example.com/" + repo + "@" + index.String(), Repository: repo, Digest: index.String()}},
		}
	}
	apply := func(t *testing.T, repo string, policy retention.Policy, decisions []retention.Decision) {
		batch := batchOf(repo, decisions)
		batch.Policy, batch.Now = &policy, time.Now()
		if _, err := newClient(t, Config{URL: reg.URL}).ExecuteBatches(context.Background(), []Batch{batch}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("a child tagged too", func(t *testing.T) {
		const repo = "pin/child"
		index, children := deployedIndex(t, repo)
		if err := reg.Tag(repo, children[0], "pr-1-amd64"); err != nil {
			t.Fatal(err)
		}
		policy := policyFor(repo, index)
		plan := decideRepository(t, newClient(t, Config{URL: reg.URL}), repo, policy)
		if len(plan.Decisions) != 1 || plan.Decisions[0].Action != retention.Untag || plan.Decisions[0].Digest != children[0].String() ||
			!strings.Contains(plan.Decisions[0].Reason, "deployed image(s) "+policy.Images[0].Reference) {
			t.Fatalf("decisions %+v, want only pr-1-amd64 untagged, its manifest kept by the deployed index", plan.Decisions)
		}
		apply(t, repo, policy, plan.Decisions)
		mustExist(t, reg, repo, true, append([]v1.Hash{index}, children...)...)
		if tags, err := reg.Tags(repo); err != nil || slices.Contains(tags, "pr-1-amd64") {
			t.Errorf("tags %q (%v), want pr-1-amd64 removed", tags, err)
		}
	})

	t.Run("a tagged index sharing a child", func(t *testing.T) {
		const repo = "pin/shared"
		index, children := deployedIndex(t, repo)
		own, err := reg.PushImageFor(repo, platforms[1], created)
		if err != nil {
			t.Fatal(err)
		}
		pr7, err := reg.PushIndexOf(repo, []v1.Hash{children[0], own.Digest}, "pr-7")
		if err != nil {
			t.Fatal(err)
		}
		policy := policyFor(repo, index)
		plan := decideRepository(t, newClient(t, Config{URL: reg.URL}), repo, policy)
		if len(plan.Decisions) != 1 || plan.Decisions[0].Digest != pr7.String() || plan.Decisions[0].Action != retention.DeleteManifest ||
			!slices.Equal(plan.Decisions[0].Children, []string{own.Digest.String()}) {
			t.Fatalf("decisions %+v, want pr-7 deleted with %s only", plan.Decisions, own.Digest)
		}
		apply(t, repo, policy, plan.Decisions)
		mustExist(t, reg, repo, true, append([]v1.Hash{index}, children...)...)
		mustExist(t, reg, repo, false, pr7, own.Digest)
	})
}

// The apply reads what deployed images pin too: a plan made without the
// deployed index (it was deployed after the plan) deletes its tagged
// child, and the apply, evaluating the policy with the index pinned,
// keeps that child.
func TestApplyKeepsWhatAPinnedUntaggedIndexLists(t *testing.T) {
	reg := testregistry.Start(t)
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	index, children, err := reg.PushIndex("app", platforms, time.Time{}, "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage("app", time.Time{}, "main"); err != nil { // main moved on
		t.Fatal(err)
	}
	if err := reg.Tag("app", children[0], "pr-1-amd64"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	policy := retention.Policy{Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^pr-")}}, DeleteReferrers: true}
	batch := batchOf("app", decideRepository(t, c, "app", policy).Decisions)
	if len(batch.Manifests) != 1 || batch.Manifests[0].Digest != children[0].String() {
		t.Fatalf("planned %+v; want the child deleted (nothing pinned yet)", batch.Manifests)
	}
	policy.Images = []retention.Image{{Reference: "reg.example.com/app@" + index.String(), Repository: "app", Digest: index.String()}}
	batch.Policy, batch.Now = &policy, time.Now()
	if _, err := c.ExecuteBatches(context.Background(), []Batch{batch}); err != nil {
		t.Fatal(err)
	}
	mustExist(t, reg, "app", true, index, children[0], children[1])
}
