package retention

// Links are what manifests say about each other, as far as a snapshot
// read them: an index's children, and the subject a referrer (signature,
// attestation, SBOM) names.
type Links struct {
	Children map[string][]string // index digest -> child digests
	Subjects map[string]string   // referrer digest -> subject digest
}

// Reach returns every digest that the roots keep alive: the roots, every
// child of an index among them however deep, and the subject of every
// manifest among them (deleting a subject would orphan a tagged image that
// names it). Deleting any of them would break something that stays.
func (l Links) Reach(roots ...string) map[string]bool {
	reached := map[string]bool{}
	l.extend(reached, true, roots...)
	return reached
}

// Keep is Reach over the digests of tags that stay, where referrerRoots
// are those of referrer tags ("sha256-<hex>.sig"): a referrer tag follows
// its subject rather than keeping it, so only its children count.
func (l Links) Keep(roots, referrerRoots []string) map[string]bool {
	kept := l.Reach(roots...)
	l.extend(kept, false, referrerRoots...)
	return kept
}

// extend adds to reached what the roots keep alive.
func (l Links) extend(reached map[string]bool, subjects bool, roots ...string) {
	for len(roots) > 0 {
		digest := roots[len(roots)-1]
		roots = roots[:len(roots)-1]
		if reached[digest] {
			continue
		}
		reached[digest] = true
		roots = append(roots, l.Children[digest]...)
		if subject := l.Subjects[digest]; subjects && subject != "" {
			roots = append(roots, subject)
		}
	}
}
