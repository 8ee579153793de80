package registry

import (
	"context"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A replica's apply journals under its primary's apply id
// (Batch.ApplyID, Report.ApplyID): one apply_id names what the apply
// deleted on the primary and on each replica, so registry_restore with it
// undoes the apply on every registry (review 61 found a new id per
// registry, shown nowhere).
func TestReplicaJournalsUnderThePrimarysApplyID(t *testing.T) {
	ctx := context.Background()
	const repo = "app"
	primary, replica := testregistry.Start(t), testregistry.Start(t)
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	for _, tag := range []string{"pr-1", "stable"} {
		if _, err := primary.PushImage(repo, created, tag); err != nil {
			t.Fatal(err)
		}
		if err := primary.CopyTo(replica, repo, tag); err != nil {
			t.Fatal(err)
		}
	}
	pc, rc := newClient(t, Config{URL: primary.URL}), newClient(t, Config{URL: replica.URL})
	policy := retention.Policy{Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^pr-")}}}
	plan := decideRepository(t, pc, repo, policy)
	rplan := planReplica41(t, rc, repo, plan.Decisions)
	b := batchOf(repo, plan.Decisions)
	b.Policy, b.Now = &policy, time.Now()
	report, err := pc.ExecuteBatches(ctx, []Batch{b})
	if err != nil || report.Deleted != 1 || report.ApplyID == "" {
		t.Fatalf("primary apply: deleted %d, apply id %q, err %v", report.Deleted, report.ApplyID, err)
	}
	rb := report.Follow(report.Performed[repo].Narrow(ReplicaBatch(repo, rplan)))
	rreport, err := rc.ExecuteBatches(ctx, []Batch{rb})
	if err != nil || rreport.Deleted != 1 || rreport.ApplyID != report.ApplyID {
		t.Fatalf("replica apply: deleted %d, apply id %q (want the primary's %q), err %v", rreport.Deleted, rreport.ApplyID, report.ApplyID, err)
	}
	// Chunks numbered after the primary's: a mirror copying the journal
	// between the two registries does not put one chunk over another.
	primaryChunks, replicaChunks := applyIDs60(t, pc), []string(nil)
	if tags, err := rc.Tags(ctx, JournalRepository); err == nil {
		replicaChunks = tags
	}
	if ptags, err := pc.Tags(ctx, JournalRepository); err != nil || len(primaryChunks) != 1 {
		t.Fatalf("the primary's journal: %q, %v", ptags, err)
	} else {
		for _, tag := range replicaChunks {
			if slices.Contains(ptags, tag) {
				t.Errorf("the replica's journal chunk %s has the tag of one of the primary's (%q)", tag, ptags)
			}
		}
	}
	records, err := rc.ReadJournal(ctx, JournalFilter{ApplyID: report.ApplyID})
	if err != nil || len(records) != 1 {
		t.Fatalf("the replica's journal of apply %s: %d records, %v; want pr-1's image", report.ApplyID, len(records), err)
	}
	restore, err := rc.PlanRestore(ctx, RestoreSelection{ApplyID: report.ApplyID})
	if err != nil || len(restore.Images) != 1 {
		t.Fatalf("restore by the primary's apply_id on the replica: %+v, %v", restore.Images, err)
	}
}
