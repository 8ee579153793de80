package gc

import (
	"maps"
	"slices"

	"github.com/opencontainers/go-digest"
)

// sweepPlan is what a run deletes, decided before the first deletion.
type sweepPlan struct {
	marked     map[digest.Digest]bool
	manifests  []manifestDeletion
	blobs      []digest.Digest // sorted
	layerLinks []layerLinkDeletion
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
func mark(inv *inventory, opts Options) *sweepPlan {
	plan := &sweepPlan{marked: map[digest.Digest]bool{}}
	var candidates []manifestDeletion
	for _, r := range inv.repos {
		kept := keptManifests(inv, r, opts.DeleteUntagged, opts.Protect[r.name])
		for _, dg := range r.revisions {
			if !kept[dg] {
				candidates = append(candidates, manifestDeletion{repo: r.name, digest: dg, tags: r.tagIndex[dg]})
				continue
			}
			plan.marked[dg] = true
			for _, ref := range inv.manifests[dg].references {
				plan.marked[ref] = true
			}
		}
		for _, dg := range r.layers {
			if !plan.marked[dg] {
				plan.layerLinks = append(plan.layerLinks, layerLinkDeletion{repo: r.name, digest: dg})
			}
		}
	}
	for _, c := range candidates {
		if !plan.marked[c.digest] {
			plan.manifests = append(plan.manifests, c)
		}
	}
	for dg := range inv.blobs {
		if !plan.marked[dg] {
			plan.blobs = append(plan.blobs, dg)
		}
	}
	slices.Sort(plan.blobs)
	return plan
}

// keptManifests returns the manifests of r that are kept: all of them,
// or with deleteUntagged the closure of the tagged and protected ones over
// references (index children) and subjects (referrers of kept manifests).
func keptManifests(inv *inventory, r *repository, deleteUntagged bool, protected []string) map[digest.Digest]bool {
	linked := map[digest.Digest]bool{}
	for _, dg := range r.revisions {
		linked[dg] = true
	}
	if !deleteUntagged {
		return linked
	}
	kept := map[digest.Digest]bool{}
	referrers := map[digest.Digest][]digest.Digest{} // subject -> manifests naming it
	for _, dg := range r.revisions {
		if s := inv.manifests[dg].subject; s != "" {
			referrers[s] = append(referrers[s], dg)
		}
	}
	var queue []digest.Digest
	keep := func(dg digest.Digest) {
		if linked[dg] && !kept[dg] {
			kept[dg] = true
			queue = append(queue, dg)
		}
	}
	for _, dg := range slices.Sorted(maps.Values(r.tags)) {
		keep(dg)
	}
	for _, dg := range protected {
		keep(digest.Digest(dg))
	}
	for len(queue) > 0 {
		dg := queue[0]
		queue = queue[1:]
		for _, ref := range inv.manifests[dg].references {
			keep(ref)
		}
		for _, referrer := range referrers[dg] {
			keep(referrer)
		}
	}
	return kept
}
