package registry

// Regression test of review 61 (fixed: Performed counts the tags a DELETE took from a manifest verification put back, and Narrow turns the replica's deletion of it into an untag of those tags); failed before the fix.
//
// Review 61: a replica after a primary's apply that repaired what it
// deleted.
//
// Defect (TestReview61ReplicaKeepsATagThePrimaryRemovedFromARepairedManifest):
// the primary deletes D (tag pr-1, the plan's); in the registry API's
// window a kept tag (stable) is moved onto D and its DELETE takes both
// tags. Verification puts stable back and, not knowing onto which of the
// chunk's manifests stable had moved, puts D back too, untagged
// (repair.go restoreSuspects; subtest kept-tag-moved). restoreNeeded does
// the same for a D that an index pushed over it uses (subtest
// index-pushed: D comes back as the index's child). pr-1, which the plan
// removes, stays gone
// on the primary: the primary's apply removed it. But Report.Performed
// counts neither D (unmarkDeleted: back) nor pr-1 (journal.performed keeps
// the tags of a manifest deletion only when the manifest is still
// deleted), so Performed.Narrow drops the replica's whole item and the
// replica keeps D tagged pr-1, without a word: applyReplicas finds nothing
// to do (`continue`), no "Skipped on a replica" warning is given, and the
// state's replica_deletions still lists D as deleted there.
//
// Why it matters: the replica differs from its primary after an apply
// that reports success on it. The divergence is permanent: the primary no
// longer has pr-1, so no later plan names it, and the replica keeps pr-1
// (and the image) until someone notices by comparing registries. The
// Several registries guide promises "A tag the primary removes goes on the
// replica only where it points at the same digest there": here the primary
// removed pr-1 from D and the replica has pr-1 on D. (Also: the primary's
// report says D was put back untagged; the replica's says nothing.) The
// scale: verification puts back every manifest of the chunk the moved tag
// went with, so one such race leaves a whole chunk's planned tags on the
// replica (TestReview61LatencyRaceAcrossChunksKeepsWhatStays, 150 planned,
// max_concurrency = 4, two races behind 30 ms: the primary ends with its
// 21 kept tags, the replica with 107, on v3 and 2.8 alike).
//
// Fix suggestion: let Performed carry the tags the primary's apply took
// from a manifest it then put back (w.removed of a work whose digest the
// apply deleted and restored, j.sent && !j.deleted), and have Narrow turn
// such a replica manifest into an untag of those tags (the manifest stays
// on the primary, so it stays on the replica). At the least, applyReplicas
// should warn for each replica item Narrow drops ("not performed on the
// primary: ...") rather than drop it silently.
//
// Reproduce: go test -count=1 -run TestReview61ReplicaKeepsATagThePrimaryRemovedFromARepairedManifest ./internal/registry
// (distribution v3 in process; 2.8 with Debian's docker-registry, REGISTRY_V28_REQUIRED=1 to insist).

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview61ReplicaKeepsATagThePrimaryRemovedFromARepairedManifest(t *testing.T) {
	races := map[string]func(primary *testregistry.Registry, repo string, d v1.Hash) error{
		// A kept tag moved onto D in the registry API's window
		// (restoreTag, then restoreSuspects puts D back untagged).
		"kept-tag-moved": func(primary *testregistry.Registry, repo string, d v1.Hash) error {
			return primary.Tag(repo, d, "stable")
		},
		// An index pushed over D just before its DELETE (restoreNeeded
		// puts D back as the new index's child).
		"index-pushed": func(primary *testregistry.Registry, repo string, d v1.Hash) error {
			_, err := primary.PushIndexOf(repo, []v1.Hash{d}, "multi")
			return err
		},
	}
	for name, race := range races {
		t.Run(name, func(t *testing.T) { replicaAfterRepair61(t, race) })
	}
}

func replicaAfterRepair61(t *testing.T, race func(primary *testregistry.Registry, repo string, d v1.Hash) error) {
	onBothKinds61(t, func(t *testing.T, start func(testing.TB, ...testregistry.Option) *testregistry.Registry) {
		const repo = "review61/repaired"
		primary, replica := start(t), start(t)
		d, err := primary.PushImage(repo, time.Time{}, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		s, err := primary.PushImage(repo, time.Time{}, "stable")
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range []string{"pr-1", "stable"} {
			if err := primary.CopyTo(replica, repo, tag); err != nil {
				t.Fatal(err)
			}
		}
		proxy := newFaultProxy(t, primary.URL)
		pc, rc := newClient(t, Config{URL: proxy.URL}), newClient(t, Config{URL: replica.URL})
		policy := retention.Policy{Keep: []retention.KeepRule{{Tags: []string{"stable"}}},
			Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^pr-")}}, DeleteReferrers: true}
		plan := decideRepository(t, pc, repo, policy)
		rplan := planReplica41(t, rc, repo, plan.Decisions)
		if len(rplan.Manifests) != 1 || rplan.Manifests[0].Digest != d.Digest.String() {
			t.Fatalf("replica plan %+v; want %s (pr-1) deleted, as on the primary", rplan, d.Digest)
		}
		onFirstDeleteOf(proxy, d.Digest.String(), func() {
			if err := race(primary, repo, d.Digest); err != nil {
				t.Error(err)
			}
		})
		b := batchOf(repo, plan.Decisions)
		b.Policy, b.Now = &policy, time.Now()
		report, err := pc.ExecuteBatches(context.Background(), []Batch{b})
		if err != nil {
			t.Fatalf("primary apply: %v (report %+v)", err, report)
		}
		t.Logf("primary: restored %q; skipped %q; warnings %q; performed %+v", report.Restored, report.Skipped, report.Warnings, report.Performed[repo])
		if got := resolvesTo(t, primary, repo, "pr-1"); !strings.HasPrefix(got, "error") {
			t.Fatalf("primary pr-1 = %s; want it removed by the apply", got)
		}
		if got := resolvesTo(t, primary, repo, "stable"); strings.HasPrefix(got, "error") {
			t.Fatalf("primary stable = %s; want it put back", got)
		}
		mustExist(t, primary, repo, true, s.Digest)
		if found, err := primary.ManifestExists(repo, d.Digest); err != nil || !found {
			t.Skipf("the primary's repair did not put %s back (exists %v, %v): not the case under test", d.Digest, found, err)
		}
		// The provider's applyReplicas for this repository.
		rreport := applyReplica41(t, rc, repo, rplan, report.Performed[repo])
		said := strings.Join(append(append(rreport.Skipped, rreport.Warnings...), rreport.Restored...), "; ")
		if got := resolvesTo(t, replica, repo, "pr-1"); got == d.Digest.String() && !strings.Contains(said, "pr-1") && !strings.Contains(said, d.Digest.String()) {
			t.Errorf("the primary's apply removed pr-1 from %s (and put the manifest back, without it); the replica still has pr-1 on %s, "+
				"and its apply says nothing (report %+v): the replica differs from its primary after a successful apply, for good", d.Digest, got, rreport)
		}
	})
}
