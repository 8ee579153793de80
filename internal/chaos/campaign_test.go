// Package chaos proves the provider's promise, nothing kept is ever
// deleted, under faults and races: many applies of random retention
// policies over random repositories on a real registry, through a proxy
// that injects errors, while a racer pushes, retags and builds indexes
// over planned digests. `make test` runs a short campaign; `make chaos` a
// long one (CHAOS_APPLIES, CHAOS_SEED).
package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/distreg/terraform-provider-registry/internal/gc"
	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

const (
	faultRate = 0.05 // of requests during a faulted apply
	gcEvery   = 4    // iterations between garbage collections
)

// figures are what the campaign prints.
type figures struct {
	applies, faultedApplies, failedApplies, restarts, gcRuns int
	races                                                    map[string]int
	realLosses, windowLosses, incomplete, notConverged       int
}

type campaign struct {
	t       *testing.T
	ctx     context.Context
	rng     *rand.Rand
	reg     *testregistry.Registry
	storage storage
	proxy   *faultProxy
	// final is what each repository holds once its plan is empty: every
	// tag stays, and each image must stay complete through later GCs.
	final map[string]map[string]string
	figures
}

// expectation is a tag that must still point at digest after the apply:
// kept by the plan, or pushed or moved by the racer at time at.
type expectation struct {
	digest string
	child  string // for an index the racer built over a planned digest
	raced  bool
	at     time.Time
}

// storage is where the campaign's registry keeps its data: the options
// that serve it again after a restart, and its driver for GC.
type storage struct {
	options []testregistry.Option
	driver  func(t *testing.T) storagedriver.StorageDriver
}

func filesystem(t *testing.T) storage {
	root := t.TempDir()
	return storage{
		options: []testregistry.Option{testregistry.WithRootDir(root)},
		driver: func(t *testing.T) storagedriver.StorageDriver {
			return testregistry.OpenStorage(t, "filesystem", map[string]any{"rootdirectory": root})
		},
	}
}

func s3(t *testing.T) storage {
	m := testregistry.StartMinIO(t)
	if err := m.CreateBucket("chaos"); err != nil {
		t.Fatal(err)
	}
	params := m.S3Parameters("chaos", "/registry")
	return storage{
		options: []testregistry.Option{testregistry.WithStorage("s3", params)},
		driver:  func(t *testing.T) storagedriver.StorageDriver { return testregistry.OpenStorage(t, "s3", params) },
	}
}

func TestCampaign(t *testing.T) {
	runCampaign(t, filesystem(t), envInt(t, "CHAOS_APPLIES", 6))
}

// The GC checks on S3 too (MinIO), over a shorter campaign.
func TestCampaignOnS3(t *testing.T) {
	runCampaign(t, s3(t), max(envInt(t, "CHAOS_APPLIES", 6)/10, 4))
}

func runCampaign(t *testing.T, st storage, iterations int) {
	seed := uint64(envInt(t, "CHAOS_SEED", int(time.Now().UnixNano()%1_000_000)))
	c := &campaign{
		t: t, ctx: context.Background(), rng: rand.New(rand.NewPCG(seed, 1)),
		reg:     testregistry.Start(t, st.options...),
		storage: st,
		final:   map[string]map[string]string{},
	}
	c.races = map[string]int{}
	c.proxy = newFaultProxy(t, c.reg.URL, seed)
	start := time.Now()
	restartAt := c.rng.IntN(iterations)
	for i := range iterations {
		c.iteration(i, i == restartAt)
		if (i+1)%gcEvery == 0 || i == iterations-1 {
			c.collectGarbage()
		}
	}
	c.report(seed, time.Since(start))
	if c.realLosses+c.incomplete+c.notConverged > 0 {
		t.Fatalf("kept tags lost %d, incomplete kept images %d, repositories not converged %d (CHAOS_SEED=%d reproduces)",
			c.realLosses, c.incomplete, c.notConverged, seed)
	}
}

func envInt(t *testing.T, name string, fallback int) int {
	v := os.Getenv(name)
	if v == "" {
		return fallback
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q is not a count", name, v)
	}
	return n
}

func (c *campaign) client(url string) *registry.Client {
	cl, err := registry.New(c.ctx, registry.Config{URL: url, RetryMaxElapsed: 30 * time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// iteration seeds one repository, plans a random policy, applies it under
// faults while the racer works, checks what must have stayed, and applies
// again until the plan is empty.
func (c *campaign) iteration(i int, restart bool) {
	repo := fmt.Sprintf("chaos/r%03d", i)
	c.seed(repo)
	policy := c.policy()
	snap, batch := c.plan(repo, policy)
	expected := keptBy(snap, batch)

	c.proxy.setRate(faultRate)
	raced := make(chan map[string]expectation)
	go func() { raced <- c.race(repo, batch, restart) }()
	_, err := c.client(c.proxy.URL).ExecuteBatches(c.ctx, []registry.Batch{batch})
	for tag, e := range <-raced {
		expected[tag] = e
	}
	c.proxy.setRate(0)
	c.applies++
	c.faultedApplies++
	if err != nil {
		c.failedApplies++ // not a loss: the next apply takes over
	}
	c.checkKept(repo, snap, expected)
	c.converge(repo, policy)
}

// seed pushes 4-10 images with tags that share digests, some indexes over
// them, signatures, and known or unknown ages.
func (c *campaign) seed(repo string) {
	var images []v1.Hash
	for k := range 4 + c.rng.IntN(7) {
		created := time.Time{}
		if c.rng.IntN(3) > 0 {
			created = time.Now().Add(-time.Duration(c.rng.IntN(60*24)) * time.Hour)
		}
		tags := []string{c.tagName(k)}
		if c.rng.IntN(4) == 0 {
			tags = append(tags, c.tagName(k+100)) // a shared digest
		}
		img, err := c.reg.PushImage(repo, created, tags...)
		if err != nil {
			c.t.Fatal(err)
		}
		images = append(images, img.Digest)
	}
	for k := range c.rng.IntN(3) {
		children := []v1.Hash{images[c.rng.IntN(len(images))]}
		if _, err := c.reg.PushIndexOf(repo, children, fmt.Sprintf("multi-%d", k)); err != nil {
			c.t.Fatal(err)
		}
	}
	for range c.rng.IntN(3) {
		if _, err := c.reg.PushReferrer(repo, images[c.rng.IntN(len(images))], "sig"); err != nil {
			c.t.Fatal(err)
		}
	}
}

func (c *campaign) tagName(k int) string {
	switch c.rng.IntN(4) {
	case 0:
		return fmt.Sprintf("v1.%d.%d", c.rng.IntN(5), k)
	case 1:
		return fmt.Sprintf("pr-%d", k)
	case 2:
		return []string{"latest", "stable", "main"}[c.rng.IntN(3)]
	}
	return fmt.Sprintf("build-%03d", k)
}

func (c *campaign) policy() retention.Policy {
	var p retention.Policy
	if c.rng.IntN(2) == 0 {
		p.Keep = append(p.Keep, retention.KeepRule{Tags: []string{"latest", "stable"}})
	}
	if c.rng.IntN(2) == 0 {
		p.Keep = append(p.Keep, retention.KeepRule{TagRegex: regexp.MustCompile(`^v`), Newest: 1 + c.rng.IntN(3), OrderBy: retention.BySemver})
	}
	switch c.rng.IntN(3) {
	case 0:
		p.Delete = []retention.DeleteRule{{TagRegex: regexp.MustCompile(`^pr-`)}}
	case 1:
		p.Delete = []retention.DeleteRule{{OlderThan: 7 * 24 * time.Hour}}
	default:
		p.Delete = []retention.DeleteRule{{}}
	}
	p.DeleteReferrers = c.rng.IntN(2) == 0
	return p
}

// plan decides the policy over repo with a client of its own (no faults)
// and returns the snapshot it saw and the batch an apply carries out.
func (c *campaign) plan(repo string, policy retention.Policy) (*registry.Snapshot, registry.Batch) {
	cl := c.client(c.reg.URL)
	snap, err := cl.Snapshot(c.ctx, repo)
	if err != nil {
		c.t.Fatal(err)
	}
	_, decisions, err := cl.DecideRetention(c.ctx, []*regexp.Regexp{regexp.MustCompile("^" + regexp.QuoteMeta(repo) + "$")}, policy, time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	return snap, batchOf(repo, decisions)
}

func batchOf(repo string, decisions []retention.Decision) registry.Batch {
	b := registry.Batch{Repository: repo, Untag: map[string]string{}}
	for _, d := range decisions {
		if d.Action == retention.Untag {
			for _, tag := range d.Tags {
				b.Untag[tag] = d.Digest
			}
			continue
		}
		b.Manifests = append(b.Manifests, registry.ManifestDeletion{Repository: repo, Digest: d.Digest, Tags: d.Tags, Referrers: d.Referrers, Children: d.Children})
	}
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

// race works against the apply: it pushes new images, moves tags onto
// planned digests (a rollback), builds tagged indexes over planned
// digests, and, once per campaign, restarts the registry. It returns what
// it expects to stay.
func (c *campaign) race(repo string, b registry.Batch, restart bool) map[string]expectation {
	expected := map[string]expectation{}
	var planned []v1.Hash
	for _, m := range b.Manifests {
		if h, err := v1.NewHash(m.Digest); err == nil {
			planned = append(planned, h)
		}
	}
	for k := range 1 + c.rng.IntN(3) {
		time.Sleep(time.Duration(c.rng.IntN(300)) * time.Millisecond)
		kind := []string{"push", "retag", "index"}[c.rng.IntN(3)]
		if len(planned) == 0 {
			kind = "push"
		}
		tag, e, err := c.raceOnce(repo, kind, k, planned)
		if err != nil {
			continue // a race that did not happen
		}
		c.races[kind]++
		e.raced, e.at = true, time.Now()
		expected[tag] = e
	}
	if restart {
		c.reg = c.reg.Restart(c.t, func() { time.Sleep(2 * time.Second) }, c.storage.options...)
		c.restarts++
	}
	return expected
}

func (c *campaign) raceOnce(repo, kind string, k int, planned []v1.Hash) (string, expectation, error) {
	switch kind {
	case "retag":
		target := planned[c.rng.IntN(len(planned))]
		tag := fmt.Sprintf("rollback-%d", k)
		return tag, expectation{digest: target.String()}, c.reg.Tag(repo, target, tag)
	case "index":
		target := planned[c.rng.IntN(len(planned))]
		tag := fmt.Sprintf("release-%d", k)
		index, err := c.reg.PushIndexOf(repo, []v1.Hash{target}, tag)
		return tag, expectation{digest: index.String(), child: target.String()}, err
	}
	tag := fmt.Sprintf("new-%d", k)
	img, err := c.reg.PushImage(repo, time.Time{}, tag)
	return tag, expectation{digest: img.Digest.String()}, err
}

// checkKept checks every expected tag: it must still point at its digest,
// and its image must be complete (manifest, config, layers, index
// children, the referrers the plan saw).
func (c *campaign) checkKept(repo string, snap *registry.Snapshot, expected map[string]expectation) {
	cl := c.client(c.reg.URL)
	for _, tag := range slices.Sorted(mapKeys(expected)) {
		e := expected[tag]
		m, err := cl.Resolve(c.ctx, repo, tag)
		switch {
		case registry.IsNotFound(err) || (err == nil && m.Digest != e.digest):
			c.lost(repo, tag, e, m.Digest)
		case err != nil:
			c.t.Fatal(err)
		case e.child != "" && c.complete(repo, e.digest) != nil:
			c.lost(repo, tag, expectation{digest: e.child, raced: true, at: e.at}, "an index missing its child")
		default:
			c.checkComplete(repo, tag, e.digest, snap)
		}
	}
}

// lost classifies a lost tag: inside the registry API's window when the
// race that put it there completed after the view that the deletion of its
// digest relied on started, and that view was fresh enough; otherwise a
// real loss.
func (c *campaign) lost(repo, tag string, e expectation, now string) {
	deletedAt, viewStart, deleted := c.proxy.deleteAndView(repo, e.digest)
	// The apply promises that no DELETE relies on a view older than
	// DefaultViewMaxAge (plus the time the proxy takes to see it).
	fresh := deletedAt.Sub(viewStart) <= registry.DefaultViewMaxAge+time.Second
	if e.raced && deleted && fresh && e.at.After(viewStart) {
		c.windowLosses++
		c.t.Logf("inside the documented window: %s:%s (pushed onto %s after the view its DELETE relied on)", repo, tag, e.digest)
		return
	}
	c.realLosses++
	c.t.Errorf("LOST: %s:%s should point at %s, points at %q", repo, tag, e.digest, now)
}

func (c *campaign) checkComplete(repo, tag, digest string, snap *registry.Snapshot) {
	if err := c.complete(repo, digest); err != nil {
		c.incomplete++
		c.t.Errorf("INCOMPLETE: %s:%s (%s): %v", repo, tag, digest, err)
		return
	}
	if snap == nil {
		return
	}
	for _, referrer := range snap.FallbackReferrerTags(digest) {
		if _, err := c.client(c.reg.URL).Resolve(c.ctx, repo, referrer); err != nil {
			c.incomplete++
			c.t.Errorf("INCOMPLETE: %s:%s lost its referrer %s: %v", repo, tag, referrer, err)
		}
	}
}

// complete reads the image or index in full: every blob and child.
func (c *campaign) complete(repo, digest string) error {
	ref, err := name.NewDigest(c.reg.Host+"/"+repo+"@"+digest, name.Insecure)
	if err != nil {
		return err
	}
	desc, err := remote.Get(ref, c.reg.RemoteOptions()...)
	if err != nil {
		return err
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		return validate.Index(idx)
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	if cfg, err := img.ConfigName(); err != nil || cfg.Hex == "" {
		return fmt.Errorf("config: %v", err)
	}
	return validate.Image(img)
}

// converge applies the policy again, without faults, until its plan is
// empty, then records every tag left for the GC checks.
func (c *campaign) converge(repo string, policy retention.Policy) {
	for range 3 {
		_, batch := c.plan(repo, policy)
		if len(batch.Manifests)+len(batch.Untag) == 0 {
			c.recordFinal(repo)
			return
		}
		if _, err := c.client(c.reg.URL).ExecuteBatches(c.ctx, []registry.Batch{batch}); err != nil {
			c.t.Fatal(err)
		}
		c.applies++
	}
	c.notConverged++
	c.t.Errorf("%s: the plan is not empty after three applies", repo)
}

func (c *campaign) recordFinal(repo string) {
	snap, err := c.client(c.reg.URL).Snapshot(c.ctx, repo)
	if err != nil {
		c.t.Fatal(err)
	}
	c.final[repo] = map[string]string{}
	for tag, m := range snap.Tags {
		if c.complete(repo, m.Digest) == nil { // a broken one was counted when it broke
			c.final[repo][tag] = m.Digest
		}
	}
}

// collectGarbage stops the registry, collects with delete_untagged, starts
// it again, and checks that everything every repository kept is complete.
func (c *campaign) collectGarbage() {
	var runErr error
	c.reg = c.reg.Restart(c.t, func() {
		_, runErr = gc.Run(c.ctx, c.storage.driver(c.t), gc.Options{DeleteUntagged: true})
	}, c.storage.options...)
	if runErr != nil {
		c.t.Fatal(runErr)
	}
	c.gcRuns++
	for _, repo := range slices.Sorted(mapKeys(c.final)) {
		snap, err := c.client(c.reg.URL).Snapshot(c.ctx, repo)
		if err != nil {
			c.t.Fatal(err)
		}
		for _, tag := range slices.Sorted(mapKeys(c.final[repo])) {
			digest := c.final[repo][tag]
			if m, ok := snap.Tags[tag]; !ok || m.Digest != digest {
				c.realLosses++
				c.t.Errorf("LOST after GC: %s:%s should point at %s", repo, tag, digest)
				continue
			}
			c.checkComplete(repo, tag, digest, snap)
		}
	}
}

func (c *campaign) report(seed uint64, took time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos campaign (CHAOS_SEED=%d), %s\n", seed, took.Round(time.Second))
	fmt.Fprintf(&b, "  applies run:                 %d (%d under faults and races, %d of them failed and were applied again)\n", c.applies, c.faultedApplies, c.failedApplies)
	fmt.Fprintf(&b, "  faults injected:             %s\n", counts(c.proxy.faultCounts()))
	fmt.Fprintf(&b, "  registry restarts:           %d during applies, %d for garbage collection\n", c.restarts, c.gcRuns)
	fmt.Fprintf(&b, "  races injected:              %s\n", counts(c.races))
	fmt.Fprintf(&b, "  kept tags lost:              %d (target 0)\n", c.realLosses)
	fmt.Fprintf(&b, "  lost inside the API window:  %d (a tag pushed onto a planned digest after the view its DELETE relied on)\n", c.windowLosses)
	fmt.Fprintf(&b, "  incomplete kept images:      %d (target 0)\n", c.incomplete)
	fmt.Fprintf(&b, "  repositories not converged:  %d (target 0)\n", c.notConverged)
	c.t.Log("\n" + b.String())
	fmt.Print(b.String())
}

func counts(m map[string]int) string {
	var parts []string
	total := 0
	for _, k := range slices.Sorted(mapKeys(m)) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
		total += m[k]
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
