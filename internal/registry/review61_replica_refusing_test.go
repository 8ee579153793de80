package registry

// Review 61: a replica that stops accepting deletions between the plan
// and the apply (a maintenance window: read-only mode; deletion turned
// off), after the primary's apply deleted.
//
// TestReview61ReplicaTurnedReadOnlyOrDeleteDisabledFailsLoudly (an attack
// that did not break anything when it passes): the plan checked the
// replica (it accepted deletions); then it restarts read-only, or with
// deletion disabled, and the primary's apply deletes pr-1 and pr-2. The
// replica's apply must fail (never a success), keep every manifest, and
// lose nothing (no Lost, kept tags intact), on distribution v3 (restart
// in process).

import (
	"context"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview61ReplicaTurnedReadOnlyOrDeleteDisabledFailsLoudly(t *testing.T) {
	for name, opt := range map[string]testregistry.Option{"read-only": testregistry.WithReadOnly(), "delete-disabled": testregistry.WithDeleteDisabled()} {
		t.Run(name, func(t *testing.T) {
			const repo = "review61/refusing"
			primary, replica := testregistry.Start(t), testregistry.StartRestartable(t)
			for _, tag := range []string{"pr-1", "pr-2", "stable"} {
				if _, err := primary.PushImage(repo, time.Time{}, tag); err != nil {
					t.Fatal(err)
				}
				if err := primary.CopyTo(replica, repo, tag); err != nil {
					t.Fatal(err)
				}
			}
			pc, rc := newClient(t, Config{URL: primary.URL}), newClient(t, Config{URL: replica.URL})
			plan := decideRepository(t, pc, repo, deletePR())
			rplan := planReplica41(t, rc, repo, plan.Decisions)
			if err := rc.CheckDeletable(context.Background(), repo); err != nil {
				t.Fatalf("the replica refused deletions at plan time: %v", err)
			}
			replica = replica.Restart(t, func() {}, testregistry.WithRootDir(replica.RootDir), opt)
			report, err := pc.ExecuteBatches(context.Background(), []Batch{batchOf(repo, plan.Decisions)})
			if err != nil || report.Deleted != 2 {
				t.Fatalf("primary: deleted %d, err %v", report.Deleted, err)
			}
			b := report.Performed[repo].Narrow(ReplicaBatch(repo, rplan))
			rc = newClient(t, Config{URL: replica.URL}) // the apply's own client
			rreport, err := rc.ExecuteBatches(context.Background(), []Batch{b})
			t.Logf("replica: err %v; report %+v", err, rreport)
			if err == nil {
				t.Errorf("the replica refused every DELETE, yet its apply succeeded (report %+v)", rreport)
			}
			if len(rreport.Lost) > 0 || rreport.Deleted != 0 {
				t.Errorf("replica: deleted %d, lost %q", rreport.Deleted, rreport.Lost)
			}
			for _, tag := range []string{"pr-1", "pr-2", "stable"} {
				if got := resolvesTo(t, replica, repo, tag); len(got) < 7 || got[:7] != "sha256:" {
					t.Errorf("replica %s = %s; the replica deleted nothing", tag, got)
				}
			}
		})
	}
}
