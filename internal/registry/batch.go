package registry

import (
	"time"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// Batch is everything a retention policy planned for one repository:
// manifests to delete by digest, and tags to remove (tag -> planned digest)
// from digests that keep another tag.
type Batch struct {
	Repository string
	Manifests  []ManifestDeletion
	Untag      map[string]string
	// Policy, when set, is evaluated again against the apply's view (at
	// Now): an item is carried out only if the policy then deletes it too.
	// The plan is an upper bound, never a licence.
	Policy *retention.Policy
	Now    time.Time
	// Pinned are digests deployed images name in the repository, kept with
	// all they reach: a replica's batch, which has no policy, carries them
	// (with a policy, its Images are).
	Pinned []string
	// Replica: the batch follows a primary's decisions (replica.go), and
	// a signature or attestation tag pushed onto one of its manifests
	// since the plan keeps it (on a replica, it is not the primary's).
	Replica bool
	// untaggedRead are untagged indexes whose children the apply's view
	// reads too (a tag deletion's candidates).
	untaggedRead []string
	// inOrder runs the items one at a time, in order (a subject before its
	// referrers when they are separate items).
	inOrder bool
	// run is the apply the batch belongs to: one journal id for every
	// repository one apply touches, and for its replicas (Report.Follow);
	// nil an apply of its own.
	run *applyRun
}

// Batches are what an apply of decisions carries out, one batch per
// repository in the order the repositories first appear. The caller adds
// the policy to evaluate again (Policy, Now), or makes them a replica's
// (ReplicaBatches).
func Batches(decisions []retention.Decision) []Batch {
	var out []Batch
	at := map[string]int{}
	for _, d := range decisions {
		i, ok := at[d.Repository]
		if !ok {
			i = len(out)
			at[d.Repository] = i
			out = append(out, Batch{Repository: d.Repository, Untag: map[string]string{}})
		}
		b := &out[i]
		if d.Action == retention.Untag {
			for _, tag := range d.Tags {
				b.Untag[tag] = d.Digest
			}
			continue
		}
		b.Manifests = append(b.Manifests, ManifestDeletion{Repository: d.Repository,
			ManifestPlan: retention.ManifestPlan{Digest: d.Digest, Tags: d.Tags, Referrers: d.Referrers, Children: d.Children}})
	}
	return out
}

// ReplicaBatch is the batch that carries out a replica's plan.
func ReplicaBatch(repo string, p retention.ReplicaPlan) Batch {
	b := Batch{Repository: repo, Untag: p.Untag}
	for _, m := range p.Manifests {
		b.Manifests = append(b.Manifests, ManifestDeletion{Repository: repo, ManifestPlan: m})
	}
	return b.onReplica(p.Pinned)
}

// ReplicaBatches are the batches that carry out a replica's planned
// deletions as a plan lists them (the provider's replica_deletions),
// keeping what the deployed images name in each repository.
func ReplicaBatches(decisions []retention.Decision, images []retention.Image) []Batch {
	out := Batches(decisions)
	for i, b := range out {
		out[i] = b.onReplica(PinnedIn(b.Repository, images))
	}
	return out
}

// onReplica makes b a replica's batch: it follows a primary's decisions,
// its own signatures and attestations keep what they name (Replica), as
// its deployed images do (pinned).
func (b Batch) onReplica(pinned []string) Batch {
	b.Replica, b.Pinned = true, pinned
	return b
}
