package registry

import (
	"context"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 37: restoring an index whose children an earlier apply deleted.

// deleteChildThenIndex deletes one platform image of a tagged index
// (registry_manifest_deletion with allow_breaking_indexes), then, in a
// second apply, the index; it returns the index, the children and the
// apply id that deleted the index.
func deleteChildThenIndex(t *testing.T, reg *testregistry.Registry, repo string) (v1.Hash, []v1.Hash, string) {
	t.Helper()
	ctx := context.Background()
	idx, children, err := reg.PushIndex(repo, []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}},
		time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), "multi")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	child, err := c.PlanManifestDeletion(ctx, repo, children[0].String(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(child.BrokenIndexes) == 0 {
		t.Fatalf("planned %+v; want the index named as a parent", child)
	}
	child.AcceptBroken = []string{idx.String()}
	if _, err := c.ExecuteManifestDeletion(ctx, child); err != nil {
		t.Fatal(err)
	}
	index, err := c.PlanManifestDeletion(ctx, repo, "multi", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecuteManifestDeletion(ctx, index); err != nil {
		t.Fatal(err)
	}
	mustExist(t, reg, repo, false, idx, children[0], children[1])
	records, err := c.ReadJournal(ctx, JournalFilter{Repository: repo})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if r.Digest == idx.String() {
			return idx, children, r.ApplyID
		}
	}
	t.Fatalf("no journal record of the index %s", idx)
	return v1.Hash{}, nil, ""
}

// Restoring by digest finds the child in the earlier apply's journal and
// brings the index back whole: holds.
func TestReview37RestoreByDigestOfAnIndexWhoseChildAnEarlierApplyDeleted(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review37/restore-index-digest"
		idx, children, _ := deleteChildThenIndex(t, reg, repo)
		c := newClient(t, Config{URL: reg.URL})
		planned, err := c.PlanRestore(context.Background(), RestoreSelection{Digests: []string{idx.String()}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ExecuteRestore(context.Background(), planned, func(string) {}); err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, true, idx, children[0], children[1])
		tagIs(t, reg, repo, "multi", idx)
	})
}

// Restoring everything the index's apply deleted (registry_restore
// apply_id, the undo guide's "everything the last apply deleted") read
// only that apply's journal: the child an earlier apply deleted was not
// found there, and the plan failed as if garbage collection had freed it.
// It now reads the whole journal of the apply's repositories
// (journalOfRepositories) and puts the child back first.
func TestReview37RestoreByApplyIDOfAnIndexWhoseChildAnEarlierApplyDeleted(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review37/restore-index-apply"
		idx, children, applyID := deleteChildThenIndex(t, reg, repo)
		c := newClient(t, Config{URL: reg.URL})
		planned, err := c.PlanRestore(context.Background(), RestoreSelection{ApplyID: applyID})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ExecuteRestore(context.Background(), planned, func(string) {}); err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, true, idx, children[0], children[1])
		tagIs(t, reg, repo, "multi", idx)
	})
}
