package chaos

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

var platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// fixture pushes 4-10 images, some with several tags on one digest, known and
// unknown ages (no created time, or the 1970 epoch), up to two
// multi-platform indexes, up to three signatures and up to two tagged
// attestations, in a new repository; one time in three, an untagged index
// that a deployment pins, sharing a child with a tagged pr- index
// (deployUntaggedIndex).
func (c *campaign) fixture(repo string, policy *retention.Policy) {
	var subjects []v1.Hash
	for k := range 4 + c.rng.IntN(7) {
		tags := []string{c.rng.tagName(k)}
		if c.rng.IntN(4) == 0 {
			tags = append(tags, c.rng.tagName(k+100)) // a shared digest
		}
		created := c.rng.created()
		img, err := c.reg.PushImage(repo, created, tags...)
		if err != nil {
			c.t.Fatal(err)
		}
		if unknownAge(created) {
			c.unknownAge[img.Digest.String()] = true
		}
		subjects = append(subjects, img.Digest)
	}
	for k := range c.rng.IntN(3) {
		subjects = append(subjects, c.pushIndex(repo, subjects, k))
	}
	for range c.rng.IntN(4) {
		subject := subjects[c.rng.IntN(len(subjects))]
		if _, err := c.reg.PushReferrer(repo, subject, c.rng.referrerKind()); err != nil {
			c.t.Fatal(err)
		}
	}
	for k := range c.rng.IntN(3) {
		if _, err := c.pushAttestation(repo, subjects[c.rng.IntN(len(subjects))], k); err != nil {
			c.t.Fatal(err)
		}
	}
	if c.rng.IntN(3) == 0 {
		c.deployUntaggedIndex(repo, policy)
	}
}

// pushAttestation pushes an attestation naming subject in its body and
// tags it provenance-<k>, as a build pipeline does (issue 30, point 4): a
// tag that stays keeps its subject.
func (c *campaign) pushAttestation(repo string, subject v1.Hash, k int) (string, error) {
	att, err := c.reg.PushUntaggedReferrer(repo, subject, "att")
	if err != nil {
		return "", err
	}
	return att.String(), c.reg.Tag(repo, att, fmt.Sprintf("provenance-%d", k))
}

// deployUntaggedIndex pushes a multi-platform index that a deployment
// pins by digest (keep { images }) while no tag points at it any more (a
// pod's imageID whose tag moved on), and a tagged pr- index sharing one of
// its children, which a pr- or catch-all rule plans; half the time a child
// is tagged pr- too (issue 30, loss path 1). The pinned index must stay
// complete, through GC as well (gc.Options.Protect).
func (c *campaign) deployUntaggedIndex(repo string, policy *retention.Policy) {
	index, children, err := c.reg.PushIndex(repo, platforms, c.rng.created())
	if err != nil {
		c.t.Fatal(err)
	}
	shared := children[c.rng.IntN(len(children))]
	if _, err := c.reg.PushIndexOf(repo, []v1.Hash{shared}, "pr-shared"); err != nil {
		c.t.Fatal(err)
	}
	if c.rng.IntN(2) == 0 {
		if err := c.reg.Tag(repo, children[0], "pr-amd64"); err != nil {
			c.t.Fatal(err)
		}
	}
	policy.Images = append(policy.Images, retention.Image{Reference: c.reg.Host + "/" + repo + "@" + index.String(), Repository: repo, Digest: index.String()})
	c.deployed[repo] = append(c.deployed[repo], index.String())
}

// pushIndex pushes a tagged multi-platform index: over images of repo that
// are tagged themselves (a build that reuses them), or over new untagged
// platform images.
func (c *campaign) pushIndex(repo string, images []v1.Hash, k int) v1.Hash {
	tag := c.rng.tagName(k + 200)
	if c.rng.IntN(2) == 0 {
		index, err := c.reg.PushIndexOf(repo, c.rng.pick(images, 1+c.rng.IntN(2)), tag)
		if err != nil {
			c.t.Fatal(err)
		}
		return index
	}
	index, _, err := c.reg.PushIndex(repo, platforms, c.rng.created(), tag)
	if err != nil {
		c.t.Fatal(err)
	}
	return index
}

// dice draws what the campaign varies. The fixtures and the racer have
// dice of their own, so that a seed draws the same fixtures and policies
// whatever the timing of the races.
type dice struct{ *rand.Rand }

// pick returns up to n distinct digests of from.
func (d dice) pick(from []v1.Hash, n int) []v1.Hash {
	var picked []v1.Hash
	for _, i := range d.Perm(len(from))[:min(n, len(from))] {
		picked = append(picked, from[i])
	}
	return picked
}

// created is a time within the last 60 days or, one time in three, an
// unknown age: no created time, or the 1970 epoch that reproducible builds
// write.
func (d dice) created() time.Time {
	switch d.IntN(6) {
	case 0:
		return time.Time{}
	case 1:
		return epoch
	}
	return time.Now().Add(-time.Duration(d.IntN(60*24)) * time.Hour)
}

var epoch = time.Unix(0, 0).UTC()

// unknownAge reports whether an image created at created has an unknown
// age as the provider reads it.
func unknownAge(created time.Time) bool { return created.IsZero() || created.Equal(epoch) }

func (d dice) tagName(k int) string {
	switch d.IntN(4) {
	case 0:
		return fmt.Sprintf("v1.%d.%d", d.IntN(5), k)
	case 1:
		return fmt.Sprintf("pr-%d", k)
	case 2:
		return []string{"latest", "stable", "main"}[d.IntN(3)]
	}
	return fmt.Sprintf("build-%03d", k)
}

// referrerKind is the suffix of a cosign-style tag: a second signature of
// the same kind moves the tag, as cosign does.
func (d dice) referrerKind() string {
	return []string{"sig", "att"}[d.IntN(2)]
}

// policy draws keep rules by name, by semver, by creation and by age, one
// delete rule (by name, by age, both, or everything not kept), and
// whether referrers go with their subjects.
func (c *campaign) policy() retention.Policy {
	var p retention.Policy
	maybe := func(rule retention.KeepRule) {
		if c.rng.IntN(2) == 0 {
			p.Keep = append(p.Keep, rule)
		}
	}
	maybe(retention.KeepRule{Tags: []string{"latest", "stable"}})
	maybe(retention.KeepRule{TagRegex: regexp.MustCompile(`^v`), Newest: 1 + c.rng.IntN(3), OrderBy: retention.BySemver})
	maybe(retention.KeepRule{TagRegex: regexp.MustCompile(`^build-`), Newest: 1 + c.rng.IntN(2), OrderBy: retention.ByCreated})
	maybe(retention.KeepRule{NewerThan: time.Duration(3+c.rng.IntN(28)) * 24 * time.Hour})
	deletes := []retention.DeleteRule{
		{TagRegex: regexp.MustCompile(`^pr-`)},
		{OlderThan: 7 * 24 * time.Hour},
		{TagRegex: regexp.MustCompile(`^build-`), OlderThan: 14 * 24 * time.Hour},
		{},
	}
	p.Delete = []retention.DeleteRule{deletes[c.rng.IntN(len(deletes))]}
	if c.rng.IntN(4) == 0 { // "keep recent images, delete the rest": unknown ages are kept
		p.Keep = append(p.Keep, retention.KeepRule{NewerThan: time.Duration(3+c.rng.IntN(28)) * 24 * time.Hour})
		p.Delete = []retention.DeleteRule{{}}
	}
	p.DeleteReferrers = c.rng.IntN(2) == 0
	return p
}

// keepsUnknownAge reports whether a keep rule of p keeps every tag of
// unknown age: newer_than over every tag.
func keepsUnknownAge(p retention.Policy) bool {
	for _, k := range p.Keep {
		if k.NewerThan > 0 && k.TagRegex == nil {
			return true
		}
	}
	return false
}

// target is one repository of an apply: what the plan saw and decided,
// and the tags that must still point at their digests after the apply
// (the racer adds to them while the gap watcher reads them: mu).
type target struct {
	repo      string
	snap      *registry.Snapshot
	decisions []retention.Decision // as planned, for a replica to follow
	batch     registry.Batch
	mu        sync.Mutex
	expected  map[string]expectation
}

func (tg *target) expect(tag string, e expectation) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.expected[tag] = e
}

// expectations is a copy of what is expected now.
func (tg *target) expectations() map[string]expectation {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return maps.Clone(tg.expected)
}

// expectation is a tag that must still point at digest after the apply:
// kept by the plan, or pushed or moved there by the racer at time at.
type expectation struct {
	digest string
	raced  bool
	start  time.Time // when the race began
	at     time.Time // when it completed
	// dangling: found listed but resolving to nothing when checked
	dangling bool
}

// plan decides the policy over repo with a client of its own (no faults).
func (c *campaign) plan(repo string, policy retention.Policy) *target {
	cl := c.client(c.reg.URL)
	snap, err := cl.Snapshot(c.ctx, repo)
	if err != nil {
		c.t.Fatal(err)
	}
	plan, err := cl.DecideRetention(c.ctx, retention.Selection{Include: []*regexp.Regexp{regexp.MustCompile("^" + regexp.QuoteMeta(repo) + "$")}}, policy, time.Now())
	decisions := plan.Decisions
	if err != nil {
		c.t.Fatal(err)
	}
	b := batchOf(repo, decisions, policy)
	tg := &target{repo: repo, snap: snap, decisions: decisions, batch: b, expected: keptBy(snap, b)}
	c.checkUnknownAgeKept(tg, policy)
	return tg
}

// checkUnknownAgeKept counts as lost every tag of an image of unknown age
// that a plan removes while a keep rule's newer_than covers every tag:
// when in doubt, keep (issue 30, point 5).
func (c *campaign) checkUnknownAgeKept(tg *target, policy retention.Policy) {
	if !keepsUnknownAge(policy) {
		return
	}
	removed := slices.Collect(maps.Keys(tg.batch.Untag))
	for _, m := range tg.batch.Manifests {
		removed = append(removed, m.Tags...)
	}
	for _, tag := range removed {
		if m, ok := tg.snap.Tags[tag]; ok && c.unknownAge[m.Digest] && !retention.IsReferrerTag(tag) {
			c.realLosses++
			c.t.Errorf("PLANNED: %s:%s, an image of unknown age, is removed although keep { newer_than } keeps it", tg.repo, tag)
		}
	}
}

// batchOf is what an apply of the decisions carries out, as the provider
// builds it: with the policy, evaluated again at apply time (Now is set
// right before the apply).
func batchOf(repo string, decisions []retention.Decision, policy retention.Policy) registry.Batch {
	b := registry.Batch{Repository: repo, Untag: map[string]string{}}
	if all := registry.Batches(decisions); len(all) == 1 && all[0].Repository == repo {
		b = all[0]
	} else if len(decisions) > 0 {
		panic("batchOf: decisions of another repository than " + repo)
	}
	b.Policy = &policy
	return b
}

// keptBy is every tag of the snapshot that the batch does not remove.
func keptBy(snap *registry.Snapshot, b registry.Batch) map[string]expectation {
	removed := map[string]bool{}
	for tag := range b.Untag {
		removed[tag] = true
	}
	for _, m := range b.Manifests {
		for _, tag := range m.Tags {
			removed[tag] = true
		}
	}
	kept := map[string]expectation{}
	for tag, m := range snap.Tags {
		if !removed[tag] {
			kept[tag] = expectation{digest: m.Digest}
		}
	}
	return kept
}
