package registry

import (
	"context"
	"regexp"
	"slices"
	"strings"
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
