package registry

// Review 63: now that a replica journals under its primary's apply id, a
// mirror that copies terraform-provider-registry/journal from the primary
// to the replica (the case 18258e8 numbers chunks for) mixes the primary's
// deletions into the replica's apply: registry_restore with that apply_id
// on the replica plans the primary's deletions too, and fails as a whole
// ("Nothing was restored") over an image the replica never had.
//
// What is wrong: a journal chunk says which repository it describes
// (journalRepoKey) but not which registry; ReadJournal/PlanRestore on the
// replica select every chunk of the apply id, the copied ones included.
// Before c964405 each registry had its own id, so copied chunks were
// another apply's. Here the primary deletes pr-1 in "app" and in
// "primary-only" (a repository the replica does not have); the replica
// follows in "app"; the mirror copies the primary's journal chunks; on the
// replica the restore of the apply lists primary-only's image, whose
// blobs the replica never held: ExpiredError, nothing restored.
//
// Why it matters: registry_restore with apply_id must put back exactly
// what the apply deleted on the registry it runs against; here it cannot
// undo the replica's part at all, and with images the replica does hold
// (kept there, Narrow) it would write back the primary's tags.
//
// Suggested fix: annotate each chunk with the registry it journals (host,
// or a per-registry nonce in the chunk tag and an annotation) and have
// ReadJournal ignore chunks journaled for another registry (at least under
// apply_id); registry_journal can then show them apart.
//
// Reproduce: REVIEW63_UNSKIP=1 go test -count=1 -run TestReview63MirroredJournalMixesThePrimarysApply ./internal/registry
// (distribution v3 in process.)

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview63MirroredJournalMixesThePrimarysApply(t *testing.T) {
	reported63(t)
	ctx := context.Background()
	primary, replica := testregistry.Start(t), testregistry.Start(t)
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	for _, repo := range []string{"app", "primary-only"} {
		for _, tag := range []string{"pr-1", "stable"} {
			if _, err := primary.PushImage(repo, created, tag); err != nil {
				t.Fatal(err)
			}
			if repo == "app" {
				if err := primary.CopyTo(replica, repo, tag); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	pc, rc := newClient(t, Config{URL: primary.URL}), newClient(t, Config{URL: replica.URL})
	policy := retention.Policy{Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^pr-")}}}
	var batches []Batch
	plans := map[string]RetentionPlan{}
	for _, repo := range []string{"app", "primary-only"} {
		plan := decideRepository(t, pc, repo, policy)
		plans[repo] = plan
		b := batchOf(repo, plan.Decisions)
		b.Policy, b.Now = &policy, time.Now()
		batches = append(batches, b)
	}
	rplan := planReplica41(t, rc, "app", plans["app"].Decisions)
	report, err := pc.ExecuteBatches(ctx, batches)
	if err != nil || report.Deleted != 2 {
		t.Fatalf("primary apply: deleted %d, err %v", report.Deleted, err)
	}
	rb := report.Follow(report.Performed["app"].Narrow(ReplicaBatch("app", rplan)))
	rreport, err := rc.ExecuteBatches(ctx, []Batch{rb})
	if err != nil || rreport.Deleted != 1 || rreport.ApplyID != report.ApplyID {
		t.Fatalf("replica apply: deleted %d, apply id %q, err %v", rreport.Deleted, rreport.ApplyID, err)
	}
	// The mirror copies the journal repository from the primary.
	tags, err := pc.Tags(ctx, JournalRepository)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		if err := primary.CopyTo(replica, JournalRepository, tag); err != nil {
			t.Fatalf("mirroring %s: %v", tag, err)
		}
	}
	restore, err := rc.PlanRestore(ctx, RestoreSelection{ApplyID: report.ApplyID})
	if err != nil {
		t.Fatalf("restore by apply_id on the replica: %v", err)
	}
	for _, img := range restore.Images {
		t.Logf("planned on the replica: %s %s missing %q", img.Repository, img.Digest, img.Missing)
	}
	if err := restore.ExpiredError(); err != nil || len(restore.Images) != 1 || restore.Images[0].Repository != "app" {
		t.Errorf("registry_restore with apply_id = %q on the replica plans %d image(s) (want the replica's one deletion, in app); "+
			"the primary's journal chunks, mirrored, are read as the replica's: %v", report.ApplyID, len(restore.Images), err)
		if err != nil && strings.Contains(err.Error(), "primary-only") {
			t.Logf("it cannot restore at all: %v", err)
		}
	}
}
