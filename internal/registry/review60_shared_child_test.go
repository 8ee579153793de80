package registry

// Regression test of review 60 (fixed: journal.sent counts the DELETEs of a digest that may have been carried out, and a refused one takes only itself off); failed before the fix.
//
// Review 60: an index child two planned indexes share, deleted with the
// first, is withdrawn from the journal when the second's DELETE of it is
// refused.
//
// What is wrong: journal.refused (journal.go) sets sent[digest] = false
// whatever was sent before: it forgets that an earlier DELETE of the same
// digest in this apply went through (the registry confirmed it). Two
// indexes deleted by the policy that list one child each carry it among
// their steps (retention's dependents), so the apply sends its DELETE
// twice; the second is refused outright when the credentials lost the
// right to delete meanwhile (a robot account or role changed mid-apply:
// push stays, delete goes; or a gateway's rule answering 403), and
// withdrawKept then withdraws the child's entry (JournalEntry.Kept),
// though the first DELETE deleted it.
//
// Why it matters: the journal says the apply did not delete the child; a
// registry_restore with that apply_id plans the indexes without it and
// refuses them as expired ("the registry no longer holds what they need
// (garbage collection frees a deleted image's blobs ...)"): nothing the
// apply deleted can be put back by apply_id, and the error blames garbage
// collection, which has not run.
//
// Suggested fix: refused must not withdraw a digest that any DELETE of
// this apply may have deleted: only the first DELETE sent for the digest
// in this apply, itself refused at every attempt, counts as not sent
// (keep a count of DELETEs per digest, or leave sent alone once done).
//
// Reproduce: go test -count=1 -run TestReview60JournalWithdrawsASharedChildDeletedBeforeARefusedDelete ./internal/registry
// (distribution v3 in process, and 2.8).

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview60JournalWithdrawsASharedChildDeletedBeforeARefusedDelete(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review60/shared"
		ctx := context.Background()
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		child, err := reg.PushImage(repo, created)
		if err != nil {
			t.Fatal(err)
		}
		other, err := reg.PushImage(repo, created)
		if err != nil {
			t.Fatal(err)
		}
		pr1, err := reg.PushIndexOf(repo, []v1.Hash{child.Digest}, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		pr2, err := reg.PushIndexOf(repo, []v1.Hash{child.Digest, other.Digest}, "pr-2")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1}) // the items one after the other
		batch := planBatch(t, c, repo, deletePR())
		sharing := 0
		for _, m := range batch.Manifests {
			if slices.Contains(m.Children, child.Digest.String()) {
				sharing++
			}
		}
		if len(batch.Manifests) != 2 || sharing != 2 {
			t.Fatalf("planned %+v; want pr-1's and pr-2's indexes, each with child %s", batch.Manifests, child.Digest)
		}
		// The first DELETE of the child goes through; by the second, the
		// credentials may no longer delete.
		var childDeletes atomic.Int32
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodDelete || !strings.HasSuffix(r.URL.Path, "/manifests/"+child.Digest.String()) {
				return false
			}
			if childDeletes.Add(1) == 1 {
				return false
			}
			deny60(w)
			return true
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nwarnings %q\nlost %q\nskipped %q\ndeleted %d", err, report.Restored, report.Warnings, report.Lost, report.Skipped, report.Deleted)
		if childDeletes.Load() < 2 || err == nil {
			t.Fatalf("the scenario did not run: %d DELETE(s) of the child, apply: %v", childDeletes.Load(), err)
		}
		mustExist(t, reg, repo, false, child.Digest, pr1, pr2) // deleted by the apply
		if len(journaledFor60(t, c, repo, child.Digest.String())) == 0 {
			t.Errorf("the journal (registry_journal) does not list child %s, which the apply deleted with the first index: "+
				"the second index's refused DELETE of it withdrew its entry", child.Digest)
		}
		ids := applyIDs60(t, c)
		if len(ids) != 1 {
			t.Fatalf("the journal names applies %q; want one", ids)
		}
		restore, err := c.PlanRestore(ctx, RestoreSelection{ApplyID: ids[0]})
		if err != nil {
			t.Fatalf("registry_restore with apply_id = %q: %v", ids[0], err)
		}
		if err := restore.ExpiredError(); err != nil {
			t.Errorf("registry_restore with apply_id = %q cannot put back what that apply deleted (no garbage collection ran): %v", ids[0], err)
		}
		if !slices.ContainsFunc(restore.Images, func(img RestoreImage) bool { return img.Digest == child.Digest.String() }) {
			t.Errorf("registry_restore with apply_id = %q plans %d image(s), not child %s of the indexes it puts back", ids[0], len(restore.Images), child.Digest)
		}
	})
}
