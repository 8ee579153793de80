package chaos

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// changeKinds are what other clients do between a plan and a later apply
// (a plan recorded without -out, replayed by an apply on merge): the
// racer's races, and a tag deleted through the API (issue 30, point 3:
// with newest = 1, deleting b makes the policy keep a, which the plan
// deletes).
var changeKinds = append([]string{"tag deleted"}, raceKinds...)

// applyStale changes the registry behind the targets' plans, then applies
// them under faults with nothing racing: what the policy evaluated on the
// registry right before the apply keeps, the apply must not remove.
func (c *campaign) applyStale(i int, targets []*target, policy retention.Policy) {
	r := racer{campaign: c, rng: dice{rand.New(rand.NewPCG(c.seed, uint64(i)+1_000_000))}}
	for _, tg := range targets {
		for k := range 1 + r.rng.IntN(3) {
			r.changeBehind(tg, k)
		}
	}
	batches := batchesOf(targets)
	before := make([]applyTime, len(targets))
	for k, tg := range targets {
		before[k] = c.atApplyTime(tg.repo, policy, batches[k])
	}
	c.proxy.setFaults(true)
	_, err := c.apply(c.proxy.URL, batches)
	c.proxy.setFaults(false)
	c.faultedApplies++
	c.staleApplies++
	if err != nil {
		c.failedApplies++
		c.t.Logf("apply failed, applied again: %v", err)
	}
	for k, tg := range targets {
		c.checkApplyTime(tg, before[k])
	}
}

// newestRanked are the tags keep rules rank (newest by semver, by
// created): deleting one of those kept makes the next one kept.
var newestRanked = regexp.MustCompile(`^(v|build-)`)

// changeBehind makes one change to tg's repository as another client
// would, and records what must then stay. The first deletes a kept tag,
// one that a keep rule ranks when there is one: the replay case.
func (r *racer) changeBehind(tg *target, k int) {
	kind := changeKinds[r.rng.IntN(len(changeKinds))]
	if k == 0 {
		kind = "tag deleted"
	}
	if kind == "tag deleted" {
		tags := slices.DeleteFunc(slices.Sorted(maps.Keys(tg.expectations())), retention.IsReferrerTag)
		if ranked := slices.DeleteFunc(slices.Clone(tags), func(t string) bool { return !newestRanked.MatchString(t) }); len(ranked) > 0 {
			tags = ranked
		}
		if len(tags) == 0 {
			return
		}
		tag := tags[r.rng.IntN(len(tags))]
		if err := r.client(r.reg.URL).DeleteTag(r.ctx, tg.repo, tag); err != nil {
			r.t.Fatal(err)
		}
		tg.mu.Lock()
		delete(tg.expected, tag)
		tg.mu.Unlock()
		r.changes[kind]++
		return
	}
	tag, e, err := r.raceOnce(tg, kind, 20+k)
	if err != nil {
		r.t.Logf("change %s on %s did not happen: %v", kind, tg.repo, err)
		return
	}
	r.changes[kind]++
	tg.expect(tag, e)
}

// applyTime is a repository right before an apply, and what the policy
// evaluated then deletes.
type applyTime struct {
	tags      map[string]string // tag -> digest
	manifests []string          // every manifest there: tagged, index children, planned, pinned
	removes   map[string]bool   // tags the policy removes
	deletes   map[string]bool   // manifests the policy deletes
}

// atApplyTime reads repo and evaluates the policy as the apply will (at
// b.Now), with a client of its own.
func (c *campaign) atApplyTime(repo string, policy retention.Policy, b registry.Batch) applyTime {
	cl := c.client(c.reg.URL)
	snap, err := cl.Snapshot(c.ctx, repo)
	if err != nil {
		c.t.Fatal(err)
	}
	plan, err := cl.DecideRetention(c.ctx, retention.Selection{Include: []*regexp.Regexp{regexp.MustCompile("^" + regexp.QuoteMeta(repo) + "$")}}, policy, b.Now)
	if err != nil {
		c.t.Fatal(err)
	}
	at := applyTime{tags: map[string]string{}, removes: map[string]bool{}, deletes: map[string]bool{}}
	add := func(digests ...string) {
		for _, d := range digests {
			if !slices.Contains(at.manifests, d) {
				at.manifests = append(at.manifests, d)
			}
		}
	}
	for tag, m := range snap.Tags {
		at.tags[tag] = m.Digest
		add(m.Digest)
	}
	for index, children := range snap.Children {
		add(index)
		add(children...)
	}
	for _, m := range b.Manifests {
		add(m.Digest)
		add(m.Children...)
		add(m.Referrers...)
	}
	add(c.deployed[repo]...)
	at.manifests = slices.DeleteFunc(at.manifests, func(d string) bool { return !c.exists(repo, d) })
	for _, d := range plan.Decisions {
		for _, tag := range d.Tags {
			at.removes[tag] = true
		}
		if d.Action == retention.DeleteManifest {
			for _, digest := range append(append([]string{d.Digest}, d.Children...), d.Referrers...) {
				at.deletes[digest] = true
			}
		}
	}
	return at
}

// checkApplyTime counts what the apply removed that the policy evaluated
// right before it keeps: a tag gone or moved, a manifest gone.
func (c *campaign) checkApplyTime(tg *target, at applyTime) {
	cl := c.client(c.reg.URL)
	for _, tag := range slices.Sorted(maps.Keys(at.tags)) {
		m, err := cl.Resolve(c.ctx, tg.repo, tag)
		if err != nil && !registry.IsNotFound(err) {
			c.t.Fatal(err)
		}
		if (err != nil || m.Digest != at.tags[tag]) && !at.removes[tag] {
			c.applyTimeKept++
			c.t.Errorf("KEPT AT APPLY TIME: %s:%s (on %s) was removed, but the policy evaluated right before the apply keeps it", tg.repo, tag, at.tags[tag])
			c.explain(tg)
		}
	}
	for _, digest := range at.manifests {
		if at.deletes[digest] || c.exists(tg.repo, digest) {
			continue
		}
		c.applyTimeKept++
		c.t.Errorf("KEPT AT APPLY TIME: %s@%s was deleted, but the policy evaluated right before the apply keeps it", tg.repo, digest)
		c.explain(tg)
	}
}

// exists reports whether repo serves the manifest digest.
func (c *campaign) exists(repo, digest string) bool {
	h, err := v1.NewHash(digest)
	if err != nil {
		c.t.Fatal(fmt.Errorf("%s: %w", digest, err))
	}
	found, err := c.reg.ManifestExists(repo, h)
	if err != nil {
		c.t.Fatal(err)
	}
	return found
}
