package registry

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 38: restore by apply id now that it reads the whole journal of
// the apply's repositories (26766fc).

// Apply A deletes pr-1's image X and pr-2's image Y. X comes back (a
// restore by tag, or CI pushing the same bytes again) and apply B deletes
// it again. Restoring everything apply A deleted picks, among the records
// of the whole repository, the newest deletion of each digest and keeps
// those whose apply is A: X's newest is B's, so X is left out of A's
// restore with no word (before 26766fc only A's records were read, and X
// was restored). Had A deleted only X, the plan would fail with "the
// journal holds no deletion of apply A".
func TestReview38RestoreByApplyIDLeavesOutWhatALaterApplyDeletedAgain(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review38/restore-apply-again"
		ctx := context.Background()
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		y, err := reg.PushImage(repo, created, "pr-2")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, Config{URL: reg.URL})
		if _, err := c.ExecuteBatches(ctx, []Batch{planBatch(t, c, repo, deletePR())}); err != nil {
			t.Fatal(err)
		}
		records, err := c.ReadJournal(ctx, JournalFilter{Repository: repo})
		if err != nil || len(records) != 2 {
			t.Fatalf("journal after apply A: %d records, err %v; want 2", len(records), err)
		}
		applyA := records[0].ApplyID
		restore(t, c, RestoreSelection{Repository: repo, Tags: []string{"pr-1"}})
		mustExist(t, reg, repo, true, x.Digest)
		time.Sleep(10 * time.Millisecond) // B's record is the newer
		c = newClient(t, Config{URL: reg.URL})
		if _, err := c.ExecuteBatches(ctx, []Batch{planBatch(t, c, repo, deletePR())}); err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, false, x.Digest, y.Digest)
		planned, err := otherMachine(t, reg).PlanRestore(ctx, RestoreSelection{ApplyID: applyA})
		if err != nil {
			t.Fatal(err)
		}
		var digests []string
		for _, img := range planned.Images {
			digests = append(digests, img.Digest)
		}
		for _, want := range []string{x.Digest.String(), y.Digest.String()} {
			if !slices.Contains(digests, want) {
				t.Errorf("restore of apply %s plans %v; want %s, which it deleted, among them", applyA, digests, want)
			}
		}
	})
}
