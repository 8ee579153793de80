package registry

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// ManifestDeletion is everything that deleting one manifest by digest
// removes, as shown in a plan and then performed by an apply.
// retention.ManifestPlan is what goes (digest, tags, children, referrers,
// the indexes it breaks); the rest is what performing it needs.
type ManifestDeletion struct {
	Repository string
	retention.ManifestPlan
	// ViaTag is the tag the user named, if any: if it points at another
	// digest at apply time, the apply deletes nothing.
	ViaTag string
	// AcceptBroken are the broken indexes whose breaking the user accepted
	// (registry_manifest_deletion allow_breaking_indexes).
	AcceptBroken []string
}

// PlanManifestDeletion resolves reference (a tag or a digest) in repo and
// works out what deleting its manifest removes. A reference that does not
// exist plans nothing (Empty).
func (c *Client) PlanManifestDeletion(ctx context.Context, repo, reference string, withReferrers bool) (ManifestDeletion, error) {
	snap, err := c.Snapshot(ctx, repo)
	if err != nil {
		return ManifestDeletion{}, err
	}
	target, viaTag := snap.Tags[reference], reference
	if IsDigest(reference) {
		viaTag = ""
		if target, err = c.Resolve(ctx, repo, reference); IsNotFound(err) {
			return ManifestDeletion{}, nil
		} else if err != nil {
			return ManifestDeletion{}, err
		}
	}
	if target.Digest == "" {
		return ManifestDeletion{}, nil // no such tag
	}
	if err := c.addUntaggedIndex(ctx, snap, target); err != nil {
		return ManifestDeletion{}, err
	}
	if _, err := c.readSubjects(ctx, snap, setOf(snap.TagsOn(target.Digest))); err != nil {
		return ManifestDeletion{}, err
	}
	engine := snap.engineRepository()
	p := engine.PlanManifestDeletion(target.Digest, false, nil)
	if withReferrers {
		// The referrers of what goes, and theirs in turn (the signature of
		// an SBOM): ask about each new referrer until none is new.
		api, asked := map[string][]string{}, map[string]bool{}
		for ask := append([]string{target.Digest}, p.Children...); len(ask) > 0; {
			found, err := c.APIReferrers(ctx, repo, ask)
			if err != nil {
				return ManifestDeletion{}, err
			}
			for _, subject := range ask {
				asked[subject] = true
			}
			maps.Copy(api, found)
			p = engine.PlanManifestDeletion(target.Digest, true, api)
			ask = nil
			for _, d := range slices.Concat(p.Children, p.Referrers) {
				if !asked[d] { // a registry without the API answers each round with one 404
					ask = append(ask, d)
				}
			}
		}
	}
	return ManifestDeletion{Repository: repo, ManifestPlan: p, ViaTag: viaTag}, nil
}

// addUntaggedIndex records the children of an index that no tag points at,
// which a Snapshot does not read, so that deleting it by digest also plans
// its children.
func (c *Client) addUntaggedIndex(ctx context.Context, snap *Snapshot, target Manifest) error {
	if !target.IsIndex() || snap.Children[target.Digest] != nil {
		return nil
	}
	return c.readIndexTree(ctx, snap, []string{target.Digest})
}

// Empty reports whether the deletion would remove nothing at all.
func (d ManifestDeletion) Empty() bool { return d.Digest == "" }

// ExecuteManifestDeletion performs a planned deletion after checking it
// against a fresh view (execute.go). If the registry contradicts the plan
// (the tag named moved, a tag the plan did not list now points at the
// digest, or something tagged other than the accepted parents now uses
// it), nothing is deleted and the error says why. Referrers and children
// that something tagged uses again since the plan are kept; what is
// already gone is skipped. The Report is that of its apply (explicitReport),
// also along with an error.
func (c *Client) ExecuteManifestDeletion(ctx context.Context, planned ManifestDeletion) (Report, error) {
	o, err := c.executeBatch(ctx, Batch{Repository: planned.Repository, Manifests: []ManifestDeletion{planned}}, func(bad []note) error {
		return changed("nothing deleted: %s", bad[0].why)
	})
	if kept := keptByRegistry(o); err == nil && o.deleted == 0 && kept != "" {
		o.skipped, o.restored = nil, nil // the error says them
		return explicitReport(o), changed("nothing deleted: %s", kept)
	}
	return explicitReport(o), lostError(o, err)
}

// explicitReport is what an explicit deletion's batch did, in the shape
// of a policy's apply (ExecuteBatches), for the provider to report alike:
// what it skipped and put back that its error does not say already, what
// it noticed and left (the journal not stored, a tag left as it is), what
// it lost (also named by its LostError), and how much it deleted.
// Finished, Remaining and Performed are a policy's, left empty.
func explicitReport(o outcome) Report {
	return Report{Skipped: o.skipped, Deleted: o.deleted, Untagged: o.untagged, Restored: o.restored, Lost: o.lost, Warnings: o.warnings}
}

// and is r followed by more, the report of a later batch of the same
// deletion: a warning both give (the journal not stored) is said once.
func (r Report) and(more Report) Report {
	r.Skipped = append(r.Skipped, more.Skipped...)
	r.Deleted += more.Deleted
	r.Untagged += more.Untagged
	r.Restored = append(r.Restored, more.Restored...)
	r.Lost = append(r.Lost, more.Lost...)
	for _, w := range more.Warnings {
		if !slices.Contains(r.Warnings, w) {
			r.Warnings = append(r.Warnings, w)
		}
	}
	return r
}

// keptByRegistry says what the registry kept of an explicit deletion's
// plan (contradicted right before a DELETE, or put back after it), so that
// the resource never records it deleted; "" when nothing was kept, or when
// something was lost (lostError names that first).
func keptByRegistry(o outcome) string {
	if len(o.lost) > 0 {
		return ""
	}
	return strings.Join(append(slices.Clone(o.skipped), o.restored...), "; ")
}

// lostError is err, or when the apply lost something (deleted what then
// had to be put back, and could not), a LostError naming the losses along
// with err, what stopped the apply: a loss is never hidden behind the
// error that stopped the apply.
func lostError(o outcome, err error) error {
	if len(o.lost) == 0 {
		return err
	}
	return &LostError{Cause: err, Lost: slices.Clone(o.lost)}
}

// LostError is an apply that deleted what then had to be put back (a kept
// tag taken along by a DELETE, what a staying image needs), and could not
// put it back. Cause is what else stopped the apply, if anything did
// (errors.Is and errors.As see it).
type LostError struct {
	Cause error
	Lost  []string // what was lost, and why it could not be put back
}

func (e *LostError) Error() string {
	lost := fmt.Sprintf("deleted what then had to be put back, and could not: %s", strings.Join(e.Lost, "; "))
	if e.Cause == nil {
		return lost
	}
	return fmt.Sprintf("%v\n\nBefore it stopped, the apply %s", e.Cause, lost)
}

func (e *LostError) Unwrap() error { return e.Cause }

// TagDeletion is what removing some tags does, as shown in a plan and then
// performed by an apply.
type TagDeletion struct {
	Repository string
	// Tags maps each requested tag that exists to the digest it points at,
	// or to "" for a tag the registry lists without a manifest (dangling:
	// a push of it raced a deletion of its digest), removed only while it
	// still resolves to nothing. Untagged lists, in deletion order, the
	// manifests to delete because the removed tags leave them with no tag:
	// each followed by its unreferenced index children and its referrers.
	retention.TagPlan
}

// ExecuteTagDeletion removes the planned tags, one by one so no other tag
// on the same digest is touched, then deletes the planned untagged
// manifests that are still untagged. If a planned tag now points at
// another digest than in the plan, nothing is deleted. The Report is
// that of both its batches (explicitReport), also along with an error.
func (c *Client) ExecuteTagDeletion(ctx context.Context, planned TagDeletion) (Report, error) {
	o, err := c.executeBatch(ctx, Batch{Repository: planned.Repository, Untag: planned.Tags}, func(moved []note) error {
		return changed("nothing deleted: since the plan, these tags in %q point at another image: %s; run plan again to review",
			planned.Repository, strings.Join(notesText(moved), "; "))
	})
	if err != nil || len(o.lost) > 0 {
		return explicitReport(o), lostError(o, err)
	}
	if len(o.skipped) > 0 {
		skipped := o.skipped
		o.skipped = nil // the error says them
		return explicitReport(o), changed("%d tag(s) removed, then the registry changed: %s; nothing else was deleted; run plan again to review",
			o.untagged, strings.Join(skipped, "; "))
	}
	untagged, err := c.deleteStillUntagged(ctx, planned)
	return explicitReport(o).and(untagged), err
}

// deleteStillUntagged deletes the planned untagged manifests that are
// still untagged and unused, in planned order, as an apply does
// (execute.go): the first unless a tag or a staying manifest uses it
// again, each later one unless something staying keeps it.
func (c *Client) deleteStillUntagged(ctx context.Context, planned TagDeletion) (Report, error) {
	if len(planned.Untagged) == 0 {
		return Report{}, nil
	}
	// The view reads only tagged indexes: the children of those the
	// removed tags left untagged are read too, or they would stay.
	candidates := slices.DeleteFunc(slices.Collect(maps.Values(planned.Tags)), func(d string) bool { return d == "" })
	// The referrer tags ("sha256-<subject>.sig") of what goes follow it.
	listed, err := c.Tags(ctx, planned.Repository)
	if err != nil {
		return Report{}, err
	}
	var referrerTags []string
	for _, tag := range listed {
		if subject, ok := retention.SubjectOf(tag); ok && slices.Contains(planned.Untagged, subject) {
			referrerTags = append(referrerTags, tag)
		}
	}
	// One item per manifest, one at a time in planned order (a subject
	// before its referrers): one tagged again since the plan stays, and
	// what it keeps alive, the others go.
	b := Batch{Repository: planned.Repository, untaggedRead: candidates, inOrder: true}
	for _, d := range planned.Untagged {
		b.Manifests = append(b.Manifests, ManifestDeletion{Repository: planned.Repository, ManifestPlan: retention.ManifestPlan{Digest: d, Tags: referrerTags}})
	}
	o, err := c.executeBatch(ctx, b, nil)
	if kept := keptByRegistry(o); err == nil && kept != "" { // tagged or used again since the plan, or put back
		o.skipped, o.restored = nil, nil // the error says them
		return explicitReport(o), changed("the tags were removed, then the registry changed: %s; run plan again to review", kept)
	}
	return explicitReport(o), lostError(o, err)
}

// ChangedError is a planned deletion refused because the registry no
// longer matches the plan. Nothing of that deletion was performed.
type ChangedError struct{ msg string }

func (e *ChangedError) Error() string { return e.msg }

func changed(format string, args ...any) error {
	return &ChangedError{msg: fmt.Sprintf(format, args...)}
}

// missingFrom returns the elements of got that want lacks, sorted.
func missingFrom(want, got []string) []string {
	wanted := setOf(want)
	var extra []string
	for _, g := range got {
		if !wanted[g] {
			extra = append(extra, g)
		}
	}
	slices.Sort(extra)
	return extra
}

func setOf(values []string) map[string]bool {
	set := make(map[string]bool, len(values))
	for _, v := range values {
		set[v] = true
	}
	return set
}

// PlanTagDeletion snapshots repo and works out what removing tags does.
func (c *Client) PlanTagDeletion(ctx context.Context, repo string, tags []string, deleteUntagged bool) (TagDeletion, error) {
	snap, err := c.Snapshot(ctx, repo)
	if err != nil {
		return TagDeletion{}, err
	}
	p := snap.engineRepository().PlanTagDeletion(tags, deleteUntagged)
	for _, t := range tags {
		if snap.Unresolved[t] {
			p.Tags[t] = "" // keeps nothing, so leaves nothing untagged
		}
	}
	return TagDeletion{Repository: repo, TagPlan: p}, nil
}

// PresentTags returns which of tags exist in repo (none when the
// repository does not exist).
func (c *Client) PresentTags(ctx context.Context, repo string, tags []string) ([]string, error) {
	all, err := c.Tags(ctx, repo)
	if IsNotFound(err) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	existing := setOf(all)
	present := []string{}
	for _, t := range tags {
		if existing[t] {
			present = append(present, t)
		}
	}
	return present, nil
}
