package registry

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

// Review 41: replicas following their primary, new holes after review 40.

func planReplica41(t *testing.T, replica *Client, repo string, decisions []retention.Decision) retention.ReplicaPlan {
	t.Helper()
	p, err := replica.PlanReplica(context.Background(), repo, decisions)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// applyReplica41 is the provider's applyReplicas for one repository: the
// replica's planned batch, narrowed to what the primary's apply did.
func applyReplica41(t *testing.T, replica *Client, repo string, p retention.ReplicaPlan, performed Performed) Report {
	t.Helper()
	b := performed.Narrow(ReplicaBatch(repo, p))
	if len(b.Manifests)+len(b.Untag) == 0 {
		return Report{}
	}
	report, err := replica.ExecuteBatches(context.Background(), []Batch{b})
	if err != nil {
		t.Fatal(err)
	}
	return report
}

func referrerTag41(subject v1.Hash, suffix string) string {
	return strings.Replace(subject.String(), ":", "-", 1) + "." + suffix
}

// A tag of a planned manifest deletion moves away from the digest on the
// primary before its apply: the primary still deletes the digest (its
// other tag is still there), keeps the moved tag ("it moved away ...
// since the plan"), and Report.Performed rightly leaves that tag out. But
// Performed.Narrow keeps a replica manifest whenever the primary deleted
// its digest, whatever the tags it carries there: the replica deletes the
// digest and the tag the primary kept goes with it. (Review 40 fixed the
// case where the digest stays on the replica and the tag is untagged;
// here the replica holds nothing else on the digest.) The guide: "A tag
// the primary removes goes on the replica only where it points at the same
// digest there" - the primary did not remove old2.
func TestReview41ReplicaDeletesADigestWithATagThePrimaryKept(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, replica *testregistry.Registry) {
		primary := testregistry.Start(t)
		b, err := primary.PushImage("app", time.Time{}, "old", "old2")
		if err != nil {
			t.Fatal(err)
		}
		if err := primary.CopyTo(replica, "app", "old"); err != nil {
			t.Fatal(err)
		}
		if err := replica.Tag("app", b.Digest, "old2"); err != nil {
			t.Fatal(err)
		}
		pc, rc := newClient(t, Config{URL: primary.URL}), newClient(t, Config{URL: replica.URL})
		plan := decideRepository(t, pc, "app", retention.Policy{Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^old")}}, DeleteReferrers: true})
		rplan := planReplica41(t, rc, "app", plan.Decisions)
		if len(rplan.Manifests) != 1 || rplan.Manifests[0].Digest != b.Digest.String() {
			t.Fatalf("replica plan %+v; want %s deleted", rplan, b.Digest)
		}
		moved, err := primary.PushImage("app", time.Time{}, "old2") // old2 moves on before the apply
		if err != nil {
			t.Fatal(err)
		}
		report, err := pc.ExecuteBatches(context.Background(), []Batch{batchOf("app", plan.Decisions)})
		if err != nil {
			t.Fatal(err)
		}
		skippedLike(t, report, `kept tag app:old2: it moved away`)
		if got := resolvesTo(t, primary, "app", "old2"); got != moved.Digest.String() {
			t.Fatalf("primary old2 = %s; want %s", got, moved.Digest)
		}
		if report.Performed["app"].Tags["old2"] {
			t.Fatalf("Performed says old2 was removed on the primary")
		}
		applyReplica41(t, rc, "app", rplan, report.Performed["app"])
		if got := resolvesTo(t, replica, "app", "old2"); got != b.Digest.String() {
			t.Errorf("replica old2 = %q; the primary did not remove old2 (it kept it, moved), yet the replica lost it with %s", got, b.Digest)
		}
	})
}

// An index pushed on the replica over a planned child between the
// replica's plan and its apply keeps that child (the apply's checks).
func TestReview41ReplicaKeepsAChildAnIndexStartedUsing(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, replica *testregistry.Registry) {
		primary := testregistry.Start(t)
		idx, children, err := primary.PushIndex("app", []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}, time.Time{}, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		if err := primary.CopyTo(replica, "app", "pr-1"); err != nil {
			t.Fatal(err)
		}
		pc, rc := newClient(t, Config{URL: primary.URL}), newClient(t, Config{URL: replica.URL})
		plan := decideRepository(t, pc, "app", deletePR())
		rplan := planReplica41(t, rc, "app", plan.Decisions)
		if len(rplan.Manifests) != 1 || len(rplan.Manifests[0].Children) != 2 {
			t.Fatalf("replica plan %+v; want %s and its two children deleted", rplan, idx)
		}
		report, err := pc.ExecuteBatches(context.Background(), []Batch{batchOf("app", plan.Decisions)})
		if err != nil {
			t.Fatal(err)
		}
		kept, err := replica.PushIndexOf("app", children[:1], "keep")
		if err != nil {
			t.Fatal(err)
		}
		if err := replica.Tag("app", children[1], "arm-kept"); err != nil {
			t.Fatal(err)
		}
		applyReplica41(t, rc, "app", rplan, report.Performed["app"])
		mustExist(t, replica, "app", true, kept, children[0], children[1])
		tagIs(t, replica, "app", "keep", kept)
		tagIs(t, replica, "app", "arm-kept", children[1])
	})
}

// A cosign signature pushed on the replica only, after the replica's plan,
// for a digest the plan deletes there. Had it been there at plan time,
// FollowPrimary would keep the image ("a signature only the replica has
// keeps its image"). The replica's apply has no policy (Batch.Policy nil)
// and its checks treat a sha256-<hex>.sig tag as going with its subject,
// so it deletes the image silently (no skip, no warning) and leaves the
// new signature orphaned: plan and apply follow different rules.
func TestReview41ReplicaKeepsAnImageSignedThereAfterThePlan(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, replica *testregistry.Registry) {
		primary := testregistry.Start(t)
		img, err := primary.PushImage("app", time.Time{}, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		if err := primary.CopyTo(replica, "app", "pr-1"); err != nil {
			t.Fatal(err)
		}
		pc, rc := newClient(t, Config{URL: primary.URL}), newClient(t, Config{URL: replica.URL})
		plan := decideRepository(t, pc, "app", deletePR())
		rplan := planReplica41(t, rc, "app", plan.Decisions)
		report, err := pc.ExecuteBatches(context.Background(), []Batch{batchOf("app", plan.Decisions)})
		if err != nil {
			t.Fatal(err)
		}
		sig, err := replica.PushReferrer("app", img.Digest, "sig")
		if err != nil {
			t.Fatal(err)
		}
		r := applyReplica41(t, rc, "app", rplan, report.Performed["app"])
		t.Logf("replica report: skipped %q restored %q", r.Skipped, r.Restored)
		mustExist(t, replica, "app", true, sig)
		tagIs(t, replica, "app", referrerTag41(img.Digest, "sig"), sig)
		// The signature's image: kept with the signature, or at least
		// reported; deleting it silently leaves a signature of nothing.
		found, err := replica.ManifestExists("app", img.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if !found && len(r.Skipped)+len(r.Restored) == 0 {
			t.Errorf("the replica deleted %s, signed there (%s) after the plan, without a word", img.Digest, sig)
		}
	})
}

// A deployment pulls from the replica by digest (keep { images } naming
// the replica's host, which the guide says "is kept on both"). The digest
// is an index only the replica holds (a mirror that copied a subset of the
// platforms wrote its own index over the same platform images), no longer
// tagged there. The primary does not hold it, so it protects nothing of
// it; FollowPrimary keeps only what the replica's tags reach, never the
// policy's pinned images: the replica deletes the platform images the
// deployed index runs.
func TestReview41ReplicaDeletesTheChildrenOfADeployedReplicaIndex(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, replica *testregistry.Registry) {
		primary := testregistry.Start(t)
		idx, children, err := primary.PushIndex("app", []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}, time.Time{}, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		if err := primary.CopyTo(replica, "app", "pr-1"); err != nil {
			t.Fatal(err)
		}
		deployed, err := replica.PushIndexOf("app", children[:1]) // untagged, only on the replica
		if err != nil {
			t.Fatal(err)
		}
		pc, rc := newClient(t, Config{URL: primary.URL}), newClient(t, Config{URL: replica.URL})
		policy := deletePR()
		policy.Images = []retention.Image{{Reference: replica.Host + "/app@" + deployed.String(), Repository: "app", Digest: deployed.String()}}
		plan := decideRepository(t, pc, "app", policy)
		rplan, err := rc.PlanReplica(context.Background(), "app", plan.Decisions, policy.Images...)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range rplan.Manifests {
			for _, c := range m.Children {
				if c == children[0].String() {
					t.Errorf("the replica plans to delete %s, a platform image of the deployed %s@%s", c, replica.Host+"/app", deployed)
				}
			}
		}
		b := batchOf("app", plan.Decisions)
		b.Policy, b.Now = &policy, time.Now()
		report, err := pc.ExecuteBatches(context.Background(), []Batch{b})
		if err != nil {
			t.Fatal(err)
		}
		applyReplica41(t, rc, "app", rplan, report.Performed["app"])
		mustExist(t, replica, "app", true, deployed, children[0])
		_ = idx
	})
}
