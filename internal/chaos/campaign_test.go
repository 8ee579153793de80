// Package chaos proves the provider's promise, nothing kept is ever
// deleted, under faults and races: many applies of random retention
// policies over random repositories on a real registry, through a proxy
// that injects errors, while a racer pushes, retags, signs and builds
// indexes over planned digests and the registry restarts. `make test` runs
// a short campaign; `make chaos` a long one (CHAOS_APPLIES, CHAOS_SEED).
package chaos

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/distreg/terraform-provider-registry/internal/gc"
	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

const (
	gcEvery      = 4  // iterations between garbage collections
	restartEvery = 50 // iterations between registry restarts, besides one at random
	// applyTimeout bounds an apply: a few seconds' work, retries and a
	// restart included.
	applyTimeout = 2 * time.Minute
)

// figures are what the campaign prints.
type figures struct {
	applies, faultedApplies, failedApplies, restarts, gcRuns int
	races                                                    map[string]int
	realLosses, windowLosses, incomplete, notConverged       int
	restored, lostByApply, hung                              int
}

type campaign struct {
	t       *testing.T
	ctx     context.Context
	seed    uint64
	rng     dice // the fixtures' and policies'
	reg     *testregistry.Registry
	storage storage
	proxy   *faultProxy
	// restartDue stays set until a restart happened during an apply.
	restartDue bool
	// final is what each repository holds once its plan is empty: every
	// tag stays, and each image must stay complete through later GCs.
	final map[string]map[string]string
	figures
}

// storage is where the campaign's registry keeps its data: the options
// that serve it again after a restart, and its driver for GC.
type storage struct {
	name    string
	options []testregistry.Option
	driver  func(t *testing.T) storagedriver.StorageDriver
}

func filesystem(t *testing.T) storage {
	root := t.TempDir()
	return storage{
		name:    "filesystem",
		options: []testregistry.Option{testregistry.WithRootDir(root)},
		driver: func(t *testing.T) storagedriver.StorageDriver {
			return testregistry.OpenStorage(t, "filesystem", map[string]any{"rootdirectory": root})
		},
	}
}

// s3 is a bucket of a MinIO started for the test (skipped without
// bin/minio, unless MINIO_REQUIRED=1).
func s3(t *testing.T) storage {
	m := testregistry.StartMinIO(t)
	if err := m.CreateBucket("chaos"); err != nil {
		t.Fatal(err)
	}
	params := m.S3Parameters("chaos", "/registry")
	return storage{
		name:    "S3 (MinIO)",
		options: []testregistry.Option{testregistry.WithStorage("s3", params)},
		driver:  func(t *testing.T) storagedriver.StorageDriver { return testregistry.OpenStorage(t, "s3", params) },
	}
}

func TestCampaign(t *testing.T) {
	runCampaign(t, filesystem(t), envInt(t, "CHAOS_APPLIES", 6))
}

// The same campaign on S3 (MinIO), a tenth as long: the GC checks through
// the s3 driver.
func TestCampaignOnS3(t *testing.T) {
	runCampaign(t, s3(t), max(envInt(t, "CHAOS_APPLIES", 6)/10, 4))
}

func runCampaign(t *testing.T, st storage, iterations int) {
	seed := uint64(envInt(t, "CHAOS_SEED", int(time.Now().UnixNano()%1_000_000)))
	t.Logf("CHAOS_SEED=%d", seed)
	c := &campaign{
		t: t, ctx: context.Background(), seed: seed, rng: dice{rand.New(rand.NewPCG(seed, 1))},
		reg:     testregistry.Start(t, st.options...),
		storage: st,
		final:   map[string]map[string]string{},
	}
	c.races = map[string]int{}
	c.proxy = newFaultProxy(t, c.reg.URL, seed)
	start := time.Now()
	restartAt := c.rng.IntN(iterations)
	for i := range iterations {
		c.restartDue = c.restartDue || i == restartAt || (i+1)%restartEvery == 0
		c.iteration(i)
		if (i+1)%gcEvery == 0 || i == iterations-1 {
			c.collectGarbage()
		}
	}
	c.report(seed, time.Since(start))
	if c.realLosses+c.incomplete+c.notConverged+c.lostByApply+c.hung > 0 {
		t.Fatalf("kept tags lost %d, incomplete kept images %d, repositories not converged %d, restores failed %d, applies hung %d (CHAOS_SEED=%d reproduces)",
			c.realLosses, c.incomplete, c.notConverged, c.lostByApply, c.hung, seed)
	}
}

func envInt(t *testing.T, name string, fallback int) int {
	v := os.Getenv(name)
	if v == "" {
		return fallback
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q is not a positive count", name, v)
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

// iteration seeds one or two repositories, plans a random policy over
// them, applies it under faults while the racer works, checks what must
// have stayed, and applies again until the plan is empty.
func (c *campaign) iteration(i int) {
	policy := c.policy()
	targets := make([]*target, 1+c.rng.IntN(2))
	for r := range targets {
		repo := fmt.Sprintf("chaos/i%03d-r%d", i, r)
		c.fixture(repo)
		targets[r] = c.plan(repo, policy)
	}
	c.applyRacing(i, targets)
	for _, tg := range targets {
		c.checkKept(tg)
	}
	for _, tg := range targets {
		c.converge(tg.repo, policy)
	}
}

// applyRacing applies every target's batch in one apply through the fault
// proxy while the racer works against it. An apply that fails is not a
// loss: the next one (converge) takes over.
func (c *campaign) applyRacing(i int, targets []*target) {
	batches := make([]registry.Batch, len(targets))
	for k, tg := range targets {
		batches[k] = tg.batch
	}
	c.proxy.setFaults(true)
	applied, raced := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(raced)
		r := racer{campaign: c, rng: dice{rand.New(rand.NewPCG(c.seed, uint64(i)+2))}}
		r.race(targets, applied)
	}()
	_, err := c.apply(c.proxy.URL, batches)
	close(applied)
	<-raced
	c.proxy.setFaults(false)
	c.faultedApplies++
	if err != nil {
		c.failedApplies++
		c.t.Logf("apply failed, applied again: %v", err)
	}
}

// apply runs one apply through url, bounded in time: an apply that does
// not finish in applyTimeout is counted as hung (and fails the campaign).
func (c *campaign) apply(url string, batches []registry.Batch) (registry.Report, error) {
	ctx, cancel := context.WithTimeout(c.ctx, applyTimeout)
	defer cancel()
	report, err := c.client(url).ExecuteBatches(ctx, batches)
	c.applies++
	c.restored += len(report.Restored)
	c.lostByApply += len(report.Lost)
	for _, lost := range report.Lost {
		c.t.Errorf("RESTORE FAILED: %s", lost)
	}
	if ctx.Err() != nil {
		c.hung++
		var repos []string
		for _, b := range batches {
			repos = append(repos, b.Repository)
		}
		c.t.Errorf("HUNG: an apply of %v did not finish in %s: %v", repos, applyTimeout, err)
	}
	return report, err
}

// converge applies the policy again, without faults, until its plan is
// empty, then records every tag left for the GC checks.
func (c *campaign) converge(repo string, policy retention.Policy) {
	var why string
	for range 3 {
		tg := c.plan(repo, policy)
		if len(tg.batch.Manifests)+len(tg.batch.Untag) == 0 {
			c.recordFinal(repo)
			return
		}
		report, err := c.apply(c.reg.URL, []registry.Batch{tg.batch})
		why = fmt.Sprintf("the last one skipped %q, error: %v", report.Skipped, err)
	}
	c.notConverged++
	c.t.Errorf("NOT CONVERGED: %s: the plan is not empty after three applies; %s", repo, why)
	c.explain(c.plan(repo, policy))
}

func (c *campaign) recordFinal(repo string) {
	snap, err := c.client(c.reg.URL).Snapshot(c.ctx, repo)
	if err != nil {
		c.t.Fatal(err)
	}
	c.final[repo] = map[string]string{}
	for tag, m := range snap.Tags {
		if _, err := c.contentGap(repo, m.Digest); err == nil { // a broken one was counted when it broke
			c.final[repo][tag] = m.Digest
		}
	}
}

// collectGarbage stops the registry, collects with delete_untagged, starts
// it again, and checks that everything every repository kept is there and
// complete.
func (c *campaign) collectGarbage() {
	var runErr error
	c.reg = c.reg.Restart(c.t, func() {
		_, runErr = gc.Run(c.ctx, c.storage.driver(c.t), gc.Options{DeleteUntagged: true})
	}, c.storage.options...)
	if runErr != nil {
		c.t.Fatal(runErr)
	}
	c.gcRuns++
	cl := c.client(c.reg.URL)
	for _, repo := range slices.Sorted(maps.Keys(c.final)) {
		for _, tag := range slices.Sorted(maps.Keys(c.final[repo])) {
			e := expectation{digest: c.final[repo][tag]}
			if m, err := cl.Resolve(c.ctx, repo, tag); err != nil || m.Digest != e.digest {
				c.realLosses++
				c.t.Errorf("LOST after GC: %s:%s should point at %s (%v)", repo, tag, e.digest, err)
				continue
			}
			c.checkComplete(repo, tag, e, nil) // its referrers are tags of final too
		}
	}
}

func (c *campaign) report(seed uint64, took time.Duration) {
	faults, refused := c.proxy.faultCounts()
	var b strings.Builder
	fmt.Fprintf(&b, "chaos campaign (CHAOS_SEED=%d), %s, %s\n", seed, c.storage.name, took.Round(time.Second))
	fmt.Fprintf(&b, "  applies run:                 %d (%d under faults and races, %d of them failed and were applied again)\n", c.applies, c.faultedApplies, c.failedApplies)
	fmt.Fprintf(&b, "  faults injected:             %s\n", counts(faults))
	fmt.Fprintf(&b, "  registry restarts:           %d during applies (%d requests refused while down), %d for garbage collection\n", c.restarts, refused, c.gcRuns)
	fmt.Fprintf(&b, "  races injected:              %s\n", counts(c.races))
	fmt.Fprintf(&b, "  kept tags lost:              %d (target 0)\n", c.realLosses)
	fmt.Fprintf(&b, "  restored by the apply:       %d (kept tags and images verification put back)\n", c.restored)
	fmt.Fprintf(&b, "  restores that failed:        %d (target 0: reported by the apply as lost)\n", c.lostByApply)
	fmt.Fprintf(&b, "  lost inside the API window:  %d (raced onto a planned digest after the apply's last check before its DELETE)\n", c.windowLosses)
	fmt.Fprintf(&b, "  incomplete kept images:      %d (target 0)\n", c.incomplete)
	fmt.Fprintf(&b, "  repositories not converged:  %d (target 0)\n", c.notConverged)
	fmt.Fprintf(&b, "  applies hung:                %d (target 0: each finished within %s)\n", c.hung, applyTimeout)
	c.t.Log("\n" + b.String())
	fmt.Print(b.String())
}

func counts(m map[string]int) string {
	var parts []string
	total := 0
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
		total += m[k]
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}
