package registry

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// repositoriesInFlight bounds the repositories read or changed at once by
// a retention policy; requests themselves are bounded by max_concurrency.
const repositoriesInFlight = 4

// DecideRetention runs policy over every repository of the catalog that
// one of patterns matches, and returns those repositories and the
// decisions. Each is read with one snapshot, with creation times only when
// a rule needs them.
func (c *Client) DecideRetention(ctx context.Context, patterns []*regexp.Regexp, policy retention.Policy, now time.Time) ([]string, []retention.Decision, error) {
	catalog, err := c.Repositories(ctx)
	if err != nil {
		return nil, nil, err
	}
	repos := retention.MatchRepositories(patterns, catalog)
	snapshot := c.Snapshot
	if policy.NeedsCreated() {
		snapshot = c.SnapshotWithCreated
	}
	results := make([][]retention.Decision, len(repos))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(repositoriesInFlight)
	for i, repo := range repos {
		g.Go(func() error {
			snap, err := snapshot(gctx, repo)
			if err != nil {
				return err
			}
			results[i] = retention.Decide(snap.engineRepository(), policy, now)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return repos, slices.Concat(results...), nil
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

// Batch is everything a retention policy planned for one repository:
// manifests to delete by digest, and tags to remove (tag -> planned digest)
// from digests that keep another tag.
type Batch struct {
	Repository string
	Manifests  []ManifestDeletion
	Untag      map[string]string
}

// ExecuteBatches runs the repositories' batches side by side: a registry
// deletes a manifest slower the more tags its repository has, so spreading
// deletions over repositories keeps it busy. skipped is every batch's.
func (c *Client) ExecuteBatches(ctx context.Context, batches []Batch) (skipped []string, err error) {
	perBatch := make([][]string, len(batches))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(repositoriesInFlight)
	for i, b := range batches {
		g.Go(func() error {
			var err error
			perBatch[i], err = c.executeBatch(gctx, b)
			return err
		})
	}
	err = g.Wait()
	return slices.Concat(perBatch...), err
}

// executeBatch performs a planned batch against one fresh snapshot, in
// parallel up to the client's concurrency. A planned item the registry no
// longer matches (a tag moved, a new tag on a digest) is skipped, and
// reported in skipped; nothing else of it is deleted. Tags already gone
// count as removed.
func (c *Client) executeBatch(ctx context.Context, b Batch) (skipped []string, err error) {
	fresh, err := c.Snapshot(ctx, b.Repository)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	skip := func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		skipped = append(skipped, msg)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.concurrency)
	for tag, digest := range b.Untag {
		g.Go(func() error {
			m, present := fresh.Tags[tag]
			switch {
			case !present:
				return nil
			case m.Digest != digest:
				skip(fmt.Sprintf("kept tag %s:%s: it moved from %s to %s since the plan", b.Repository, tag, digest, m.Digest))
				return nil
			}
			return c.DeleteTag(gctx, b.Repository, tag)
		})
	}
	for _, m := range b.Manifests {
		for _, tag := range movedTags(fresh, m) {
			skip(fmt.Sprintf("kept tag %s:%s: it moved away from %s since the plan", b.Repository, tag, m.Digest))
		}
		g.Go(func() error {
			err := c.executeManifestDeletion(gctx, fresh, m)
			var changedErr *ChangedError
			if errors.As(err, &changedErr) {
				skip("kept " + m.Digest + ": " + changedErr.Error())
				return nil
			}
			return err
		})
	}
	err = g.Wait()
	slices.Sort(skipped)
	return skipped, err
}

// movedTags returns the planned tags of a manifest deletion that now point
// at another image. They are not deleted: deleting the digest no longer
// touches them. (Referrer tags point at their referrers, not at the digest.)
func movedTags(fresh *Snapshot, m ManifestDeletion) []string {
	var moved []string
	for _, tag := range m.Tags {
		if cur, ok := fresh.Tags[tag]; ok && cur.Digest != m.Digest && !retention.IsReferrerTag(tag) {
			moved = append(moved, tag)
		}
	}
	return moved
}
