package registry

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// repositoriesInFlight bounds the repositories read or changed at once by
// a retention policy; requests themselves are bounded by max_concurrency.
const repositoriesInFlight = 4

// RetentionPlan is what a retention policy does to the registry.
type RetentionPlan struct {
	Repositories []string // those the patterns matched
	Decisions    []retention.Decision
	Spared       []retention.Spared
	// MissingImages are deployed images whose digest the registry does
	// not hold in their repository.
	MissingImages []string
	// Incomplete are the tags ("repo:tag: what is missing") whose image
	// lacks a part, when the rules read every body: their age is unknown.
	Incomplete []string
	// KeptUnknownAge are the tags ("repo:tag") that a delete rule matches
	// and only a keep rule's newer_than keeps, because their age is
	// unknown (no created time, the 1970 epoch, or an incomplete image).
	KeptUnknownAge []string
	// Dangling are the tags ("repo:tag") the registry lists and resolves
	// to no manifest: they keep nothing, and no deletion by digest
	// removes them.
	Dangling []string
	// Reclaimable are the bytes each decision lets garbage collection
	// free (retention.Reclaimable); nil unless policy.EstimateSpace.
	Reclaimable []int64
}

// DecideRetention runs policy over every repository of the catalog that
// the selection governs. Each is read with one snapshot, with creation
// times only when a rule needs them.
func (c *Client) DecideRetention(ctx context.Context, repositories retention.Selection, policy retention.Policy, now time.Time) (RetentionPlan, error) {
	catalog, err := c.Repositories(ctx)
	if err != nil {
		return RetentionPlan{}, err
	}
	plan := RetentionPlan{Repositories: repositories.Match(catalog)}
	// Read with a GET per tag, keeping the bodies for the apply that may
	// follow (view.go), or with creation times when a rule needs them.
	withCreated := policy.NeedsCreated() || policy.EstimateSpace
	snapshot := func(ctx context.Context, repo string) (*Snapshot, error) {
		return c.snapshotWithBodies(ctx, repo, func(string) bool { return true })
	}
	if withCreated {
		snapshot = c.SnapshotWithCreated
	}
	engineRepos := make([]retention.Repository, len(plan.Repositories))
	outcomes := make([]retention.Outcome, len(plan.Repositories))
	missing := make([][]string, len(plan.Repositories))
	incomplete := make([][]string, len(plan.Repositories))
	dangling := make([][]string, len(plan.Repositories))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(repositoriesInFlight)
	for i, repo := range plan.Repositories {
		g.Go(func() error {
			snap, err := snapshot(gctx, repo)
			if err != nil {
				return err
			}
			policy := policy // the deployed images, with what their tags resolve to here
			if policy.Images, err = c.resolveUnlistedTags(gctx, snap, policy.Images); err == nil {
				err = c.readPinned(gctx, snap, policy.Images)
			}
			if err != nil {
				return err
			}
			incomplete[i] = snap.incomplete()
			dangling[i] = snap.dangling()
			if engineRepos[i], outcomes[i], err = c.evaluate(gctx, snap, policy, now); err != nil {
				return err
			}
			missing[i], err = c.missingImages(gctx, snap, policy.Images)
			snap.bodies.only(deletedDigests(outcomes[i].Decisions))
			c.recent.keep(snap, withCreated)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return RetentionPlan{}, err
	}
	for i := range outcomes {
		plan.Decisions = append(plan.Decisions, outcomes[i].Decisions...)
		plan.Spared = append(plan.Spared, outcomes[i].Spared...)
		plan.MissingImages = append(plan.MissingImages, missing[i]...)
		plan.Incomplete = append(plan.Incomplete, incomplete[i]...)
		plan.Dangling = append(plan.Dangling, dangling[i]...)
		for _, tag := range outcomes[i].KeptUnknownAge {
			plan.KeptUnknownAge = append(plan.KeptUnknownAge, plan.Repositories[i]+":"+tag)
		}
	}
	if policy.EstimateSpace {
		plan.Reclaimable = retention.Reclaimable(engineRepos, plan.Decisions)
	}
	return plan, nil
}

// evaluate applies policy to the snapshot, having read first what the
// apply checks (execute.go keptAlive): the bodies of the staying OCI
// manifests, which may name a planned digest as their subject (an
// attestation tagged "provenance" keeps the image it attests). It
// evaluates again until no staying body is left unread, so that nothing
// is planned that every apply would skip.
func (c *Client) evaluate(ctx context.Context, s *Snapshot, policy retention.Policy, now time.Time) (retention.Repository, retention.Outcome, error) {
	for {
		repo := s.engineRepository()
		if policy.EstimateSpace {
			repo.Blobs = s.blobs()
		}
		outcome := retention.Evaluate(repo, policy, now)
		removed := map[string]bool{}
		for _, d := range outcome.Decisions {
			for _, t := range d.Tags {
				removed[t] = true
			}
		}
		found, err := c.readSubjects(ctx, s, removed)
		if err != nil || found == 0 {
			return repo, outcome, err
		}
	}
}

// deletedDigests are the digests decisions delete, with their referrers
// and children.
func deletedDigests(decisions []retention.Decision) map[string]bool {
	digests := map[string]bool{}
	for _, d := range decisions {
		if d.Action != retention.DeleteManifest {
			continue
		}
		digests[d.Digest] = true
		for _, r := range append(slices.Clone(d.Referrers), d.Children...) {
			digests[r] = true
		}
	}
	return digests
}

// missingImages returns the deployed images of the snapshot's repository
// whose digest the registry does not hold: a HEAD each, for the digests no
// tag reaches (an image pinned by digest whose tags were removed is fine).
func (c *Client) missingImages(ctx context.Context, s *Snapshot, images []retention.Image) ([]string, error) {
	var missing, tagged []string
	for _, m := range s.Tags {
		tagged = append(tagged, m.Digest)
	}
	reached := s.links().Reach(tagged...)
	for _, image := range images {
		if image.Repository == s.Repository && image.Digest == "" && !s.listed(image.Tag) {
			missing = append(missing, image.Reference) // resolveUnlistedTags found nothing for it
			continue
		}
		if image.Repository != s.Repository || image.Digest == "" || reached[image.Digest] {
			continue
		}
		exists, err := c.Exists(ctx, s.Repository, image.Digest)
		if err != nil {
			return nil, err
		}
		if !exists {
			missing = append(missing, image.Reference)
		}
	}
	return missing, nil
}

// resolveUnlistedTags returns images with the digest filled in for the
// tag references of s's repository that its listing does not name and
// the registry resolves, a HEAD each (none in the usual case): Gitea lists
// tags in lower case and resolves them in any case, so a deployment that
// pulls app:Latest runs what the listing calls latest, and the policy,
// which matches listed names exactly, would not keep it. Pinning the
// digest keeps it, with every tag on it.
func (c *Client) resolveUnlistedTags(ctx context.Context, s *Snapshot, images []retention.Image) ([]retention.Image, error) {
	var todo []int
	for i, image := range images {
		if image.Repository == s.Repository && image.Tag != "" && image.Digest == "" && !s.listed(image.Tag) {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return images, nil
	}
	digests, err := mapParallel(ctx, c.concurrency, todo, func(ctx context.Context, i int) (string, error) {
		m, err := c.Resolve(ctx, s.Repository, images[i].Tag)
		if IsNotFound(err) {
			return "", nil
		}
		return m.Digest, err
	})
	if err != nil {
		return nil, err
	}
	images = slices.Clone(images)
	for k, i := range todo {
		images[i].Digest = digests[k]
	}
	return images, nil
}

// incomplete names the tags whose image lacks a part, in tag order.
func (s *Snapshot) incomplete() []string {
	var out []string
	for _, tag := range slices.Sorted(maps.Keys(s.Tags)) {
		if m := s.Tags[tag]; m.Incomplete != "" {
			out = append(out, fmt.Sprintf("%s:%s (%s)", s.Repository, tag, m.Incomplete))
		}
	}
	return out
}

// dangling names the tags the listing named and that resolve to nothing,
// in tag order.
func (s *Snapshot) dangling() []string {
	var out []string
	for _, tag := range slices.Sorted(maps.Keys(s.Unresolved)) {
		out = append(out, s.Repository+":"+tag)
	}
	return out
}

// blobs maps every tagged manifest to what it holds, its own body first,
// for a snapshot that read every body (SnapshotWithCreated).
func (s *Snapshot) blobs() map[string][]retention.Blob {
	blobs := map[string][]retention.Blob{}
	for _, m := range s.Tags {
		blobs[m.Digest] = append([]retention.Blob{{Digest: m.Digest, Size: m.Size}}, m.Blobs...)
	}
	return blobs
}

// engineRepository is the snapshot as the retention engine reads it.
func (s *Snapshot) engineRepository() retention.Repository {
	repo := retention.Repository{Name: s.Repository, Links: s.links(), GoneSubjects: s.GoneSubjects}
	for name, m := range s.Tags {
		repo.Tags = append(repo.Tags, retention.Tag{Name: name, Digest: m.Digest, Created: m.Created})
	}
	slices.SortFunc(repo.Tags, func(a, b retention.Tag) int { return strings.Compare(a.Name, b.Name) })
	return repo
}

// allowance is what a policy evaluated at apply time deletes.
type allowance struct {
	manifests map[string]bool // digests deleted by digest
	tags      map[string]bool // tags removed either way
}

// allowanceOf evaluates b's policy against the view; nil without one.
func (b Batch) allowanceOf(s *Snapshot) *allowance {
	if b.Policy == nil {
		return nil
	}
	a := &allowance{manifests: map[string]bool{}, tags: map[string]bool{}}
	for _, d := range retention.Evaluate(s.engineRepository(), *b.Policy, b.Now).Decisions {
		if d.Action == retention.DeleteManifest {
			a.manifests[d.Digest] = true
		}
		for _, t := range d.Tags {
			a.tags[t] = true
		}
	}
	return a
}

// permits tells whether the policy at apply time deletes what w does.
func (a *allowance) permits(w *work) bool {
	if a == nil {
		return true
	}
	if w.tag != "" {
		return a.tags[w.tag]
	}
	return a.manifests[w.manifest.Digest]
}
