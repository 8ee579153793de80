package registry

// Review 42: replicas after "a manifest deleted on a replica names the
// tags of its children that go with it" (retention followWith), against
// distribution v3 and 2.8 as replicas.
//
// Attacks that did not break anything:
//   - a referrer tag on a child of a manifest the replica deletes (the
//     case the change was made for) is named and goes with it; the judge
//     takes referrer tags on children (work.takes).
//   - a child tag the primary keeps: the replica keeps it and the child
//     (a tag outside removed is a root), as before.

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

var platforms42 = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"},
	{OS: "linux", Architecture: "s390x"}, {OS: "linux", Architecture: "ppc64le"}}

var multi42 = retention.Policy{Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^multi")}}, DeleteReferrers: true}

// indexWithLateChild42 pushes to primary, in a fresh repository, a
// multi-arch index tagged "multi" and tags "multi-child" one of its
// platform images whose digest sorts after the index's (the replica plan
// walks the primary's decisions by digest), and copies both tags to
// replica: it returns the repository, the index, its children and that
// child.
func indexWithLateChild42(t *testing.T, primary, replica *testregistry.Registry) (string, v1.Hash, []v1.Hash, v1.Hash) {
	t.Helper()
	for i := 0; i < 20; i++ {
		repo := fmt.Sprintf("app%d", i)
		idx, children, err := primary.PushIndex(repo, platforms42, time.Now().Add(-time.Hour), "multi")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range children {
			if c.String() > idx.String() {
				if err := primary.Tag(repo, c, "multi-child"); err != nil {
					t.Fatal(err)
				}
				if err := primary.CopyTo(replica, repo, "multi"); err != nil {
					t.Fatal(err)
				}
				if err := replica.Tag(repo, c, "multi-child"); err != nil {
					t.Fatal(err)
				}
				return repo, idx, children, c
			}
		}
	}
	t.Fatal("no child digest sorts after its index")
	return "", v1.Hash{}, nil, v1.Hash{}
}

// Regression test of review 42 (fixed): the comment says what failed.
// The primary deletes "multi" (an index) and "multi-child" (a tag on one
// of its platform images) and the replica holds the same. Nothing moves:
// both applies delete everything. The replica's apply reports "kept tag
// app:multi-child: it moved away from <index> since the plan" (Skipped on
// a replica, in the provider): the replica plan now lists multi-child
// among the index's tags, and the judge's movedTags takes every planned
// tag that is not on the manifest's own digest for one that moved. The
// tag did not move, and it was not kept.
func TestReview42ReplicaWarnsAChildTagMovedAway(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, replica *testregistry.Registry) {
		primary := testregistry.Start(t)
		repo, idx, children, _ := indexWithLateChild42(t, primary, replica)
		pc, rc := newClient(t, Config{URL: primary.URL}), newClient(t, Config{URL: replica.URL})
		plan := decideRepository(t, pc, repo, multi42)
		rplan := planReplica41(t, rc, repo, plan.Decisions)
		report, err := pc.ExecuteBatches(context.Background(), []Batch{batchOf(repo, plan.Decisions)})
		if err != nil {
			t.Fatal(err)
		}
		rreport := applyReplica41(t, rc, repo, rplan, report.Performed[repo])
		for _, s := range rreport.Skipped {
			if strings.Contains(s, "moved away") {
				t.Errorf("replica apply reports %q; nothing moved", s)
			}
		}
		mustExist(t, replica, repo, false, append(children, idx)...)
		if tags, err := replica.Tags(repo); err != nil || len(tags) > 0 {
			t.Errorf("replica tags %v (%v), want none", tags, err)
		}
	})
}

// Regression test of review 42 (fixed): the comment says what failed.
// As above, but on the primary multi-child moves to another image after
// the plan: the primary's apply still deletes the index and its three
// other platform images, and keeps (puts back, untagged) the child whose
// tag moved away. The replica holds multi-child where the plan saw it; it
// should follow the primary's apply: delete the index and the three
// platform images the primary deleted. It deletes nothing and only
// removes "multi": Performed.Narrow sees multi-child, now listed among
// the index's tags, as a tag of the index the primary kept, and keeps
// the whole index on the replica, silently. Before the change the
// replica deleted what the primary deleted.
func TestReview42ReplicaKeepsAnIndexThePrimaryDeleted(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, replica *testregistry.Registry) {
		primary := testregistry.Start(t)
		repo, idx, children, child := indexWithLateChild42(t, primary, replica)
		pc, rc := newClient(t, Config{URL: primary.URL}), newClient(t, Config{URL: replica.URL})
		plan := decideRepository(t, pc, repo, multi42)
		rplan := planReplica41(t, rc, repo, plan.Decisions)
		if _, err := primary.PushImage(repo, time.Time{}, "multi-child"); err != nil { // the tag moves on the primary
			t.Fatal(err)
		}
		report, err := pc.ExecuteBatches(context.Background(), []Batch{batchOf(repo, plan.Decisions)})
		if err != nil {
			t.Fatal(err)
		}
		var others []v1.Hash
		for _, c := range children {
			if c != child {
				others = append(others, c)
			}
		}
		mustExist(t, primary, repo, false, append(others, idx)...)
		applyReplica41(t, rc, repo, rplan, report.Performed[repo])
		mustExist(t, replica, repo, false, append(others, idx)...)
		mustExist(t, replica, repo, true, child)
		if got := resolvesTo(t, replica, repo, "multi-child"); got != child.String() {
			t.Errorf("replica multi-child -> %s, want %s", got, child)
		}
	})
}

// Regression test of review 42 (fixed): the comment says what failed.
// A signature pushed on the replica onto a platform image of an index the
// replica plan deletes, after the plan: a plan made now keeps that image
// there (a signature only the replica has keeps its image), and the guide
// says a signature pushed onto a planned manifest on the replica since
// the plan keeps it. The replica's apply deletes the image as a child of
// the index, with no warning, and leaves the replica's own signature
// without its subject. The judge's replica check (namedBy) looks only at
// referrer tags naming the planned manifest, not its children, and what
// the apply keeps (kept) lets a referrer tag keep no subject. Since the
// plan of a policy with replicas is recorded (also from pending
// deletions), a saved plan reaches this apply (see the provider's
// TestReview42ReplicaDeletesAChildSignedThereSinceThePlan).
func TestReview42ReplicaApplyDeletesAChildSignedSinceThePlan(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, replica *testregistry.Registry) {
		primary := testregistry.Start(t)
		idx, children, err := primary.PushIndex("app", platforms42, time.Now().Add(-time.Hour), "multi")
		if err != nil {
			t.Fatal(err)
		}
		if err := primary.CopyTo(replica, "app", "multi"); err != nil {
			t.Fatal(err)
		}
		pc, rc := newClient(t, Config{URL: primary.URL}), newClient(t, Config{URL: replica.URL})
		plan := decideRepository(t, pc, "app", multi42)
		rplan := planReplica41(t, rc, "app", plan.Decisions)
		sig, err := replica.PushReferrer("app", children[1], "sig")
		if err != nil {
			t.Fatal(err)
		}
		if fresh := planReplica41(t, rc, "app", plan.Decisions); strings.Contains(fmt.Sprint(fresh.Manifests), children[1].String()) {
			t.Fatalf("a plan made now deletes %s on the replica: %+v", children[1], fresh)
		}
		report, err := pc.ExecuteBatches(context.Background(), []Batch{batchOf("app", plan.Decisions)})
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, primary, "app", false, append(children, idx)...)
		applyReplica41(t, rc, "app", rplan, report.Performed["app"])
		mustExist(t, replica, "app", true, children[1], sig)
	})
}
