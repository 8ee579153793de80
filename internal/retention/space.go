package retention

// Reclaimable returns, for each decision, the bytes that garbage collection
// could free once it is applied: the blobs of the manifests it deletes (each
// manifest's body, config and layers; an index's children and theirs; its
// referrers) that no manifest staying tagged in repos holds. A blob that
// several deletions hold counts once, for the first of them; the sum is the
// total. Untagging frees nothing.
//
// It is an upper bound: garbage collection also keeps blobs that manifests
// outside repos hold (other repositories, or untagged manifests it does not
// delete), which the policy never reads.
func Reclaimable(repos []Repository, decisions []Decision) []int64 {
	type key struct{ repo, digest string }
	byName := map[string]Repository{}
	deleted := map[key]bool{}
	for _, r := range repos {
		byName[r.Name] = r
	}
	for _, d := range decisions {
		if d.Action == DeleteManifest {
			for _, digest := range append(append([]string{d.Digest}, d.Children...), d.Referrers...) {
				deleted[key{d.Repository, digest}] = true
			}
		}
	}
	held := map[string]bool{} // blobs that stay
	for _, r := range repos {
		for _, t := range r.Tags {
			if !deleted[key{r.Name, t.Digest}] {
				for _, b := range r.Blobs[t.Digest] {
					held[b.Digest] = true
				}
			}
		}
	}
	bytes := make([]int64, len(decisions))
	for i, d := range decisions {
		if d.Action != DeleteManifest {
			continue
		}
		blobs := byName[d.Repository].Blobs
		for _, digest := range append([]string{d.Digest}, d.Referrers...) {
			for _, b := range blobs[digest] {
				if !held[b.Digest] {
					held[b.Digest] = true // counted: not again
					bytes[i] += b.Size
				}
			}
		}
	}
	return bytes
}
