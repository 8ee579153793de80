package chaos

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// TestReplicaCampaign is the campaign's primary + replica scenario (issue
// 34): each iteration builds a random repository on the primary, mirrors
// it to a replica that lags (tags not copied yet, tags still on another
// image) and holds images of its own, applies a random policy on the
// primary under faults, then the replica's part of it (what the primary's
// apply did) under faults too. On either registry no tag that stays may
// be lost or incomplete, and the replica never deletes a manifest the
// primary's apply did not delete.
func TestReplicaCampaign(t *testing.T) {
	seed := uint64(envInt(t, "CHAOS_SEED", defaultSeed))
	iterations := envInt(t, "CHAOS_REPLICA_APPLIES", 4)
	t.Logf("CHAOS_SEED=%d", seed)
	c := &campaign{
		t: t, ctx: t.Context(), seed: seed, rng: dice{rand.New(rand.NewPCG(seed, 3))},
		reg:   testregistry.Start(t),
		final: map[string]map[string]string{}, deployed: map[string][]string{}, unknownAge: map[string]bool{},
	}
	c.races, c.changes = map[string]int{}, map[string]int{}
	c.proxy = newFaultProxy(t, c.reg.URL, seed)
	replica := testregistry.Start(t)
	replicaProxy := newFaultProxy(t, replica.URL, seed+1)
	var lost, deletedBeyond, replicaOnly, lagging, replicaDeleted, replicaUntagged, keptOnReplica int
	for i := range iterations {
		repo := fmt.Sprintf("replica/i%03d", i)
		policy := c.policy()
		c.fixture(repo, &policy)
		l, own := c.mirror(repo, replica)
		lagging, replicaOnly = lagging+l, replicaOnly+own
		tg := c.plan(repo, policy)
		lagging += c.lagOnto(tg, replica)
		rc := c.client(replica.URL)
		before, err := rc.Snapshot(c.ctx, repo)
		if err != nil {
			t.Fatal(err)
		}
		followed, err := rc.PlanReplica(c.ctx, repo, tg.decisions)
		if err != nil {
			t.Fatal(err)
		}
		keptOnReplica += len(followed.Kept)

		c.proxy.setFaults(true)
		report, err := c.apply(c.proxy.URL, batchesOf([]*target{tg}))
		c.proxy.setFaults(false)
		if err != nil {
			t.Logf("primary apply failed (its replica part follows what it did): %v", err)
		}
		c.checkKept(tg)
		narrowed := report.Performed[repo].Narrow(registry.ReplicaBatch(repo, followed))
		replicaProxy.setFaults(true)
		done, err := c.apply(replicaProxy.URL, []registry.Batch{narrowed})
		replicaProxy.setFaults(false)
		if err != nil {
			t.Logf("replica apply failed: %v (skipped %q)", err, done.Skipped)
		}
		replicaDeleted, replicaUntagged = replicaDeleted+done.Deleted, replicaUntagged+done.Untagged
		subjectGone := func(subject string) bool {
			exists, err := replica.ManifestExists(repo, mustHash(t, subject))
			return err == nil && !exists
		}
		for _, tag := range slices.Sorted(maps.Keys(before.Tags)) {
			if mayGo(tag, before, tg.snap, report.Performed[repo], subjectGone) {
				continue
			}
			want := before.Tags[tag].Digest
			m, err := rc.Resolve(c.ctx, repo, tag)
			switch {
			case err != nil || m.Digest != want:
				lost++
				t.Errorf("LOST ON THE REPLICA: %s:%s should point at %s, points at %q (%v)", repo, tag, want, m.Digest, err)
			default:
				if err := replica.Pull(repo, tag); err != nil {
					lost++
					t.Errorf("INCOMPLETE ON THE REPLICA: %s:%s: %v", repo, tag, err)
				}
			}
		}
		for _, d := range heldBy(before) {
			if report.Performed[repo].Digests[d] {
				continue
			}
			if exists, err := replica.ManifestExists(repo, mustHash(t, d)); err != nil || !exists {
				deletedBeyond++
				t.Errorf("DELETED BEYOND THE PRIMARY: %s@%s is gone from the replica (%v), the primary's apply did not delete it", repo, d, err)
			}
		}
	}
	t.Logf("replica campaign: %d iterations, %d lagging tags, %d replica-only images; the replica deleted %d manifests and removed %d tags, and kept %d the primary deletes; "+
		"lost on the replica %d, deleted beyond the primary %d; %d applies, %d restored",
		iterations, lagging, replicaOnly, replicaDeleted, replicaUntagged, keptOnReplica, lost, deletedBeyond, c.applies, c.restored)
	if lost+deletedBeyond+c.realLosses+c.incomplete+c.lostByApply > 0 {
		t.Fatalf("lost on the replica %d, deleted beyond the primary %d, primary losses %d, incomplete %d, restores failed %d (CHAOS_SEED=%d reproduces)",
			lost, deletedBeyond, c.realLosses, c.incomplete, c.lostByApply, seed)
	}
}

// mirror copies repo's tags to replica as a lagging mirror holds them:
// one in five not yet copied, one in three copied but then left on another
// copied image (moved on the primary since), plus up to two images pushed
// to the replica only. It returns how many tags lag and how many images
// are the replica's own.
func (c *campaign) mirror(repo string, replica *testregistry.Registry) (lagging, own int) {
	tags, err := c.reg.Tags(repo)
	if err != nil {
		c.t.Fatal(err)
	}
	var copied []string
	for _, tag := range tags {
		if c.rng.IntN(5) == 0 {
			lagging++
			continue
		}
		if err := c.reg.CopyTo(replica, repo, tag); err != nil {
			c.t.Fatal(err)
		}
		copied = append(copied, tag)
	}
	for _, tag := range copied {
		if retention.IsReferrerTag(tag) || c.rng.IntN(3) != 0 || len(copied) < 2 {
			continue
		}
		other := copied[c.rng.IntN(len(copied))]
		m, err := c.client(replica.URL).Resolve(c.ctx, repo, other)
		if err != nil {
			c.t.Fatal(err)
		}
		if err := replica.Tag(repo, mustHash(c.t, m.Digest), tag); err != nil {
			c.t.Fatal(err)
		}
		lagging++
	}
	for k := range c.rng.IntN(3) {
		if _, err := replica.PushImage(repo, time.Now(), fmt.Sprintf("replica-only-%d", k)); err != nil {
			c.t.Fatal(err)
		}
		own++
	}
	return lagging, own
}

// mayGo reports whether following the primary may remove tag from the
// replica, independently of how the replica's plan was made: only a tag
// the primary's apply removed from the same digest, or a referrer tag
// whose referrer the primary's apply deleted and whose subject is gone
// from the replica too.
func mayGo(tag string, before *registry.Snapshot, primary *registry.Snapshot, done registry.Performed, subjectGone func(string) bool) bool {
	digest := before.Tags[tag].Digest
	if subject, ok := retention.SubjectOf(tag); ok {
		return done.Digests[digest] && subjectGone(subject)
	}
	m, onPrimary := primary.Tags[tag]
	return done.Tags[tag] && onPrimary && m.Digest == digest
}

// heldBy are the digests the replica's tags point at.
func heldBy(s *registry.Snapshot) []string {
	var digests []string
	for _, m := range s.Tags {
		if !slices.Contains(digests, m.Digest) {
			digests = append(digests, m.Digest)
		}
	}
	return digests
}

func mustHash(t *testing.T, digest string) v1.Hash {
	h, err := v1.NewHash(digest)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// lagOnto leaves, one time in two, a tag the primary keeps on a manifest
// the primary's plan deletes, on the replica only: the mirror has not
// copied the tag's move yet. The replica must keep that manifest.
func (c *campaign) lagOnto(tg *target, replica *testregistry.Registry) int {
	var kept []string
	for tag := range tg.expected {
		if !retention.IsReferrerTag(tag) {
			kept = append(kept, tag)
		}
	}
	slices.Sort(kept)
	var planned []string
	for _, d := range tg.decisions {
		if d.Action == retention.DeleteManifest {
			if exists, err := replica.ManifestExists(tg.repo, mustHash(c.t, d.Digest)); err == nil && exists {
				planned = append(planned, d.Digest)
			}
		}
	}
	if len(kept) == 0 || len(planned) == 0 || c.rng.IntN(2) == 0 {
		return 0
	}
	if err := replica.Tag(tg.repo, mustHash(c.t, planned[c.rng.IntN(len(planned))]), kept[c.rng.IntN(len(kept))]); err != nil {
		c.t.Fatal(err)
	}
	return 1
}
