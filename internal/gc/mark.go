package gc

import (
	"maps"
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// sweepPlan is what a run deletes, decided before the first deletion.
type sweepPlan struct {
	marked     []bool // by blobID
	manifests  []manifestDeletion
	blobs      []digest.Digest // sorted
	bytesFreed int64           // their sizes, once checked (checkBlobs)
	layerLinks []layerLinkDeletion
	chunks     []journalChunk // of the journal, pruned (grace.go)
	// What the grace keeps that a run without it would delete (holdBack):
	// the blobs, their sizes once checked, and the deleted manifests held.
	heldBack      []digest.Digest
	bytesHeldBack int64
	heldManifests []blobID
}

type manifestDeletion struct {
	repo   string
	digest digest.Digest
	tags   []string // whose index entries name the manifest
}

type layerLinkDeletion struct {
	repo   string
	digest digest.Digest
}

// mark decides what to delete, with the reference GC's semantics
// (registry/storage/garbagecollect.go of distribution v3):
//
//   - Without deleteUntagged every linked manifest is kept.
//   - With it, a repository keeps its tagged manifests and, recursively,
//     the manifests they reference there (index children). It also keeps
//     manifests whose subject is a kept manifest (signatures, SBOMs pushed
//     without a tag), which the reference deletes: a deliberate
//     difference. The other: schema1 manifests mark their fsLayers, where
//     the reference stops (classify.go).
//   - Kept manifests mark themselves and every digest they reference.
//   - An untagged manifest is deleted unless its digest is marked anywhere
//     (the reference checks the global mark set too).
//   - A blob is deleted when nothing marked it.
//   - A repository's layer link is deleted when its blob was not marked by
//     the repositories visited so far, this one included: the reference
//     decides per repository, in enumeration order, and so do we.
//   - With a grace, what the manifests deleted within it need is marked
//     before any repository, and they keep what they reach in their
//     repository as pinned digests do (grace.go).
func mark(inv *inventory, opts Options) *sweepPlan {
	plan := &sweepPlan{marked: make([]bool, inv.blobs.len()), chunks: inv.pruned}
	markGrace(inv, plan)
	type candidate struct {
		repo *repository
		id   blobID
	}
	var candidates []candidate
	for _, r := range inv.repos {
		kept := keptManifests(inv, r, opts.DeleteUntagged, opts.Protect[r.name], inv.graced[r.name])
		for _, id := range r.revisions {
			if !kept[id] {
				candidates = append(candidates, candidate{r, id})
				continue
			}
			plan.marked[id] = true
			for _, ref := range inv.manifests[id].references {
				plan.marked[ref] = true
			}
		}
		for _, id := range r.layers {
			if !plan.marked[id] {
				plan.layerLinks = append(plan.layerLinks, layerLinkDeletion{repo: r.name, digest: inv.blobs.digest(id)})
			}
		}
	}
	for _, c := range candidates {
		if !plan.marked[c.id] {
			plan.manifests = append(plan.manifests, manifestDeletion{repo: c.repo.name, digest: inv.blobs.digest(c.id), tags: c.repo.tagIndex[c.id]})
		}
	}
	for id, marked := range plan.marked {
		if !marked {
			plan.blobs = append(plan.blobs, inv.blobs.digest(blobID(id)))
		}
	}
	slices.Sort(plan.blobs)
	return plan
}

// keptManifests returns the manifests of r that are kept: all of them,
// or with deleteUntagged the closure of the tagged ones over references
// (index children) and subjects (referrers of kept manifests), and what
// the protected ones and the graced (deleted within the grace, linked or
// not) keep (pinned).
func keptManifests(inv *inventory, r *repository, deleteUntagged bool, protected []string, graced []blobID) map[blobID]bool {
	linked := map[blobID]bool{}
	for _, id := range r.revisions {
		linked[id] = true
	}
	if !deleteUntagged {
		return linked
	}
	kept := map[blobID]bool{}
	referrers := map[blobID][]blobID{} // subject -> manifests naming it
	for _, id := range r.revisions {
		if s := inv.manifests[id].subject; s != noBlob {
			referrers[s] = append(referrers[s], id)
		}
	}
	var queue []blobID
	keep := func(id blobID) {
		if linked[id] && !kept[id] {
			kept[id] = true
			queue = append(queue, id)
		}
	}
	for _, id := range slices.Sorted(maps.Values(r.tags)) {
		keep(id)
	}
	for id := range pinned(inv, linked, referrers, append(linkedDigests(inv, linked, protected), graced...)) {
		keep(id)
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, ref := range inv.manifests[id].references {
			keep(ref)
		}
		for _, referrer := range referrers[id] {
			keep(referrer)
		}
	}
	return kept
}

// linkedDigests numbers the digests the repository links.
func linkedDigests(inv *inventory, linked map[blobID]bool, digests []string) []blobID {
	var ids []blobID
	for _, dg := range digests {
		if id, ok := inv.blobs.lookup(digest.Digest(dg)); ok && linked[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// pinned returns the manifests of a repository that roots (deployed
// images, deleted manifests within the grace) keep, by the rule the
// retention policy and explicit deletions follow too (retention.Pinned):
// their index children, the subjects they name and their referrers,
// however far. Only manifests it links count past the roots.
func pinned(inv *inventory, linked map[blobID]bool, referrers map[blobID][]blobID, roots []blobID) map[blobID]bool {
	if len(roots) == 0 {
		return nil
	}
	return retention.Pinned(retention.Edges[blobID]{
		Children: func(id blobID) []blobID {
			var children []blobID
			for _, ref := range inv.manifests[id].references {
				if linked[ref] {
					children = append(children, ref)
				}
			}
			return children
		},
		Subject: func(id blobID) (blobID, bool) {
			m, ok := inv.manifests[id]
			return m.subject, ok && m.subject != noBlob && linked[m.subject]
		},
		Referrers: func(id blobID) []blobID { return referrers[id] },
	}, roots...)
}
