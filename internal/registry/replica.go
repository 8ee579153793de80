package registry

import (
	"context"
	"maps"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// A replica is another registry that follows a primary's decisions
// (retention.FollowPrimary): planned from its own view of each repository
// the primary deletes in, and carried out like any batch, without a policy
// of its own (the primary's is the policy): the apply's checks, journal
// and repair (execute.go) hold on the replica too.

// Replica is a client for another registry with this client's settings
// (concurrency, retries, TLS, cache) and its own URL and credentials.
func (c *Client) Replica(ctx context.Context, url, username, password, token string) (*Client, error) {
	cfg := c.cfg
	cfg.URL, cfg.Username, cfg.Password, cfg.BearerToken, cfg.Aliases = url, username, password, token, nil
	return New(ctx, cfg)
}

// PlanReplicaRepositories is PlanReplica for every repository of
// decisions (by repository), repositoriesInFlight at a time as the
// primary's plan reads them.
func (c *Client) PlanReplicaRepositories(ctx context.Context, decisions map[string][]retention.Decision, images ...retention.Image) (map[string]retention.ReplicaPlan, error) {
	repos := slices.Sorted(maps.Keys(decisions))
	plans := make([]retention.ReplicaPlan, len(repos))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(repositoriesInFlight)
	for i, repo := range repos {
		g.Go(func() (err error) {
			plans[i], err = c.PlanReplica(gctx, repo, decisions[repo], images...)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[string]retention.ReplicaPlan, len(repos))
	for i, repo := range repos {
		out[repo] = plans[i]
	}
	return out, nil
}

// PlanReplica reads repo on this (replica) registry and works out what
// follows the primary's decisions there; a repository the replica does
// not have plans nothing.
//
// Deployed images (keep { images }, those naming this registry's or the
// primary's hosts) that name a digest of repo stay, with all they reach.
func (c *Client) PlanReplica(ctx context.Context, repo string, primary []retention.Decision, images ...retention.Image) (retention.ReplicaPlan, error) {
	snap, err := c.Snapshot(ctx, repo)
	if IsNotFound(err) {
		return retention.ReplicaPlan{}, nil
	}
	if err == nil {
		err = c.readPinned(ctx, snap, images)
	}
	if err != nil {
		return retention.ReplicaPlan{}, err
	}
	for { // as the primary's plan (evaluate): what stays may name a subject, which then stays too
		plan := snap.engineRepository().FollowPrimary(primary, PinnedIn(repo, images)...)
		removed := maps.Clone(plan.Untag)
		for _, m := range plan.Manifests {
			for _, t := range m.Tags {
				removed[t] = m.Digest
			}
		}
		found, err := c.readSubjects(ctx, snap, setOf(slices.Collect(maps.Keys(removed))))
		if err != nil || found == 0 {
			return plan, err
		}
	}
}

// Narrow is a replica's batch cut down to what the primary's apply did in
// the repository (p): manifests it deleted, with only the children and
// referrers it deleted, and tags it removed. A replica never goes further
// than its primary went.
func (p Performed) Narrow(b Batch) Batch {
	narrowed := Batch{Repository: b.Repository, Untag: map[string]string{}, Pinned: b.Pinned, Replica: b.Replica}
	for _, m := range b.Manifests {
		switch {
		case !p.Digests[m.Digest] || slices.ContainsFunc(m.Tags, func(t string) bool { return !retention.IsReferrerTag(t) && !p.Tags[t] }):
			// The primary did not delete the manifest (skipped, or put
			// back untagged: a kept tag moved onto it, an index pushed
			// over it: review 61), or a tag of it there had moved away and
			// stayed: on the replica the manifest stays, and only the tags
			// the primary took go.
			for _, t := range m.Tags {
				if p.Tags[t] {
					narrowed.Untag[t] = m.Digest
				}
			}
		default:
			m.Children = slices.DeleteFunc(slices.Clone(m.Children), func(d string) bool { return !p.Digests[d] })
			m.Referrers = slices.DeleteFunc(slices.Clone(m.Referrers), func(d string) bool { return !p.Digests[d] })
			narrowed.Manifests = append(narrowed.Manifests, m)
		}
	}
	for tag, digest := range b.Untag {
		if p.Tags[tag] {
			narrowed.Untag[tag] = digest
		}
	}
	return narrowed
}
