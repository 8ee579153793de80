// Command bench is `make bench`: it measures the provider against the floor
// the registry itself sets, in one run on one machine, and prints ratios.
// Nothing here is asserted: timings belong in reports, not in tests.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

const (
	repositories = 20
	tagsPerRepo  = 500
	keepNewest   = 10
	concurrency  = registry.DefaultMaxConcurrency
	// Each case is timed as the best of several runs, which damps noise
	// from a busy machine: at least minRounds, and more while they fit in
	// roundsBudget, up to maxRounds, so that the short cases, where noise
	// weighs most, get more runs.
	minRounds    = 2
	maxRounds    = 5
	roundsBudget = 15 * time.Second
)

// benchStart is when this run began: each part's heading says how far
// into the run it starts, so that the cost of a full run can be planned.
var benchStart = time.Now()

func intoRun() string {
	return fmt.Sprintf("[%s into the run]", time.Since(benchStart).Round(time.Second))
}

func main() {
	run := run
	if len(os.Args) > 1 && os.Args[1] == floorChildArg {
		run = func(ctx context.Context) error { return runFloorChild(ctx, os.Args[2:]) }
	}
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "bench failed:", err)
		os.Exit(1)
	}
}

// result is one measured case: wall time, and for Terraform runs the peak
// resident memory of the CLI and the provider.
type result struct {
	name    string
	wall    time.Duration
	peakRSS int64
	floor   time.Duration
	// share is Terraform's own share of a Terraform plan (share.go), for
	// the floor no provider can go under: floor + share. currentShare is
	// the share of currentTerraform, which the plan did not run under.
	share, currentShare time.Duration
	// floorPeak is the floor's own peak memory, when it is a process (GC).
	floorPeak int64
}

func run(ctx context.Context) error {
	var results []result
	parts, err := benchParts()
	if err != nil {
		return err
	}
	if parts["retention"] {
		if err := pinGoBuildCache(); err != nil {
			return err
		}
		fmt.Printf("%d repositories x %d tags (%d distinct images), max_concurrency %d, %d CPUs, distribution v3 in process %s\n",
			repositories, tagsPerRepo, repositories*tagsPerRepo, concurrency, runtime.NumCPU(), intoRun())
		reads, err := readCases(ctx)
		if err != nil {
			return err
		}
		apply, err := applyCase(ctx)
		if err != nil {
			return err
		}
		results = slices.Concat(reads, apply)
	}
	if parts["plan"] && !parts["retention"] {
		if err := pinGoBuildCache(); err != nil {
			return err
		}
		plan, err := semverPlanCase(ctx)
		if err != nil {
			return err
		}
		results = append(results, plan)
	}
	if parts["gc"] {
		gcs, err := gcCases(ctx)
		if err != nil {
			return err
		}
		results = append(results, gcs...)
	}
	if len(results) > 0 {
		printResults(results)
	}
	if parts["apply"] { // apply.go: the apply behind network latency
		if err := applyBench(ctx); err != nil {
			return err
		}
	}
	if parts["scale"] { // scale.go: 50,000 tags
		return scaleBench(ctx)
	}
	return nil
}

// benchParts is the set of parts BENCH names, comma-separated
// (BENCH=gc,scale), or every part when it is unset: retention needs
// Terraform and seeded registries (plan is its semver case (b) alone, in
// minutes: issue 31.5's figure), gc neither, scale its own stores,
// apply its own stores and a latency proxy (BENCH_APPLY_* size it). A
// name it does not know is an error, not a run that measures nothing.
func benchParts() (map[string]bool, error) {
	known := []string{"retention", "plan", "gc", "scale", "apply"}
	only := os.Getenv("BENCH")
	if only == "" {
		only = strings.Join(known, ",")
	}
	parts := map[string]bool{}
	for _, part := range strings.Split(only, ",") {
		part = strings.TrimSpace(part)
		if !slices.Contains(known, part) {
			return nil, fmt.Errorf("BENCH=%s: %q is not a part; the parts are %s, comma-separated", only, part, strings.Join(known, ", "))
		}
		parts[part] = true
	}
	return parts, nil
}

func printResults(results []result) {
	fmt.Println("\n" + intoRun())
	fmt.Println("Floors: the provider client lines against the floor in this process, beside the registry; Terraform lines against the floor in a process of its own, as the provider is.")
	fmt.Println("+ terraform: that floor plus Terraform's own share of the same plan, timed with a provider answering from memory.")
	fmt.Println("+ tf 1.14: the same with the share of Terraform 1.14 (" + currentTerraform + "), for users of a current CLI.")
	fmt.Printf("\n%-62s %9s %8s %9s %12s %9s %10s %7s\n", "case", "time", "floor", "ratio", "+ terraform", "ratio", "+ tf 1.14", "peak")
	for _, r := range results {
		fmt.Printf("%-62s %8.2fs %7.2fs %8.2fx %12s %9s %10s %7s\n", r.name, r.wall.Seconds(), r.floor.Seconds(),
			r.wall.Seconds()/r.floor.Seconds(), r.withShare(r.share), r.shareRatio(), r.withShare(r.currentShare), r.peak())
	}
}

func (r result) withShare(share time.Duration) string {
	if share == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fs", (r.floor + share).Seconds())
}

func (r result) shareRatio() string {
	if r.share == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r.wall.Seconds()/(r.floor+r.share).Seconds())
}

func (r result) peak() string {
	peak := "-"
	if r.peakRSS > 0 {
		peak = fmt.Sprintf("%dMB", r.peakRSS>>20)
	}
	if r.floorPeak > 0 {
		peak += fmt.Sprintf(" (floor %dMB)", r.floorPeak>>20)
	}
	return peak
}

// readCases measures everything that only reads, on one seeded registry.
func readCases(ctx context.Context) ([]result, error) {
	reg, repos, err := seededRegistry(ctx)
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	// The client runs in this process, beside the registry, and is held
	// to the floor in this process; Terraform runs to the floor in a
	// process of its own, as the provider is one.
	describeFloor, err := best(func() error { return floorDescribe(ctx, reg.URL, repos) })
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	headFloor, err := best(func() error { return floorHead(ctx, reg.URL, repos) })
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	describeChildFloor, err := bestInChild(ctx, "describe", reg.URL, repos)
	if err != nil {
		return nil, err
	}
	headChildFloor, err := bestInChild(ctx, "head", reg.URL, repos)
	if err != nil {
		return nil, err
	}
	getFloor, err := best(func() error { return floorGet(ctx, reg.URL, repos) })
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	getChildFloor, err := bestInChild(ctx, "get", reg.URL, repos)
	if err != nil {
		return nil, err
	}
	client, err := best(func() error { return clientListAndDescribe(ctx, reg.URL, repos) })
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	out := []result{{name: "registry_tags with details: provider client", wall: client, floor: describeFloor}}
	clientCases, err := clientDecideCases(ctx, reg.URL, describeFloor, headFloor, getFloor)
	if err != nil {
		return nil, err
	}
	out = append(out, clientCases...)
	type shares struct{ share, current time.Duration }
	known := map[string]shares{} // cached (a) plans what (a) plans
	for _, c := range []struct {
		name   string
		config string
		warm   bool
		floor  time.Duration
	}{
		{"registry_tags with details: terraform plan, 20 data sources", tagsConfig(reg.URL, repos), false, describeChildFloor},
		{"(a) retention keep newest 10 by created: terraform plan", policyConfig(reg.URL, "created"), false, describeChildFloor},
		{"(b) retention keep newest 10 by semver: terraform plan", policyConfig(reg.URL, "semver"), false, getChildFloor},
		{"(a) again, descriptions cached: terraform plan vs (b) floor", policyConfig(reg.URL, "created"), true, headChildFloor},
		{"(b) with keep images, 1,000 references: terraform plan", policyConfig(reg.URL, "semver", deployedImages(reg.URL, repos)), false, getChildFloor},
		{"(b) with estimate_space: terraform plan vs (a) floor", policyConfig(reg.URL, "semver", "  estimate_space = true"), false, describeChildFloor},
		{"(b) with estimate_space, cached: terraform plan vs (b) floor", policyConfig(reg.URL, "semver", "  estimate_space = true"), true, headChildFloor},
	} {
		wall, peak, err := terraformBest(ctx, c.config, c.warm, "plan")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		s, ok := known[c.config]
		if !ok {
			if s.share, s.current, err = terraformShares(ctx, c.config); err != nil {
				return nil, fmt.Errorf("%s, Terraform's share: %w", c.name, err)
			}
			known[c.config] = s
		}
		out = append(out, result{name: c.name, wall: wall, peakRSS: peak, floor: c.floor, share: s.share, currentShare: s.current})
	}
	return out, nil
}

// semverPlanCase is readCases' plan (b) alone, beside its floor and
// Terraform's share: what BENCH=plan measures.
func semverPlanCase(ctx context.Context) (result, error) {
	reg, repos, err := seededRegistry(ctx)
	if err != nil {
		return result{}, err
	}
	defer reg.Close()
	floor, err := bestInChild(ctx, "get", reg.URL, repos)
	if err != nil {
		return result{}, err
	}
	config := policyConfig(reg.URL, "semver")
	wall, peak, err := terraformBest(ctx, config, false, "plan")
	if err != nil {
		return result{}, err
	}
	share, current, err := terraformShares(ctx, config)
	if err != nil {
		return result{}, fmt.Errorf("measuring Terraform's share: %w", err)
	}
	return result{name: "(b) retention keep newest 10 by semver: terraform plan", wall: wall, peakRSS: peak,
		floor: floor, share: share, currentShare: current}, nil
}

// clientDecideCases measures the plans (a), (b) and cached (a) through
// the provider's client alone: what a plan costs before Terraform's share
// (CLI, plugin protocol, framework, rendering the plan).
func clientDecideCases(ctx context.Context, url string, describeFloor, headFloor, getFloor time.Duration) ([]result, error) {
	var out []result
	for _, c := range []struct {
		name  string
		order string
		warm  bool
		floor time.Duration
	}{
		{"(a) by created: provider client, no cache, no Terraform", "created", false, describeFloor},
		{"(b) by semver: provider client, no Terraform", "semver", false, getFloor},
		{"(a) cached: provider client, no Terraform, vs (b) floor", "created", true, headFloor},
	} {
		cacheDir := "" // cold runs keep no cache
		if c.warm {
			dir, err := os.MkdirTemp("", "bench-client-cache-")
			if err != nil {
				return nil, err
			}
			defer os.RemoveAll(dir)
			cacheDir = dir
			if err := clientDecide(ctx, url, c.order, cacheDir); err != nil { // fills the cache
				return nil, err
			}
		}
		wall, err := best(func() error { return clientDecide(ctx, url, c.order, cacheDir) })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		out = append(out, result{name: c.name, wall: wall, floor: c.floor})
	}
	return out, nil
}

// applyCase measures (c), apply of (a), against the floor on an identical
// copy: deleting is destructive, so each side gets a fresh registry.
func applyCase(ctx context.Context) ([]result, error) {
	floorReg, repos, err := seededRegistry(ctx)
	if err != nil {
		return nil, err
	}
	defer floorReg.Close()
	floor, err := floorInChild(ctx, "delete-all-but-newest", floorReg.URL, repos)
	if err != nil {
		return nil, err
	}

	reg, _, err := seededRegistry(ctx)
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	wall, peak, err := terraformOnce(ctx, policyConfig(reg.URL, "created"), "apply", "-auto-approve")
	if err != nil {
		return nil, fmt.Errorf("terraform apply: %w", err)
	}
	if err := expectKept(reg, repos); err != nil {
		return nil, err
	}
	return []result{{name: "(c) retention of (a): terraform apply (plan + deletes)", wall: wall, peakRSS: peak, floor: floor}}, nil
}

func seededRegistry(ctx context.Context) (*testregistry.Registry, []string, error) {
	reg, err := testregistry.New(ctx)
	if err != nil {
		return nil, nil, err
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	repos := make([]string, repositories)
	for r := range repos {
		repos[r] = fmt.Sprintf("bench/app%02d", r)
		_, err := reg.SeedTags(repos[r], tagsPerRepo, tagName,
			func(i int) time.Time { return start.Add(time.Duration(r*tagsPerRepo+i) * time.Minute) })
		if err != nil {
			reg.Close()
			return nil, nil, err
		}
	}
	return reg, repos, nil
}

// tagName is tag i of a repository; tag i is also the i-th oldest image.
func tagName(i int) string { return fmt.Sprintf("v1.%d.%d", i/10, i%10) }

func expectKept(reg *testregistry.Registry, repos []string) error {
	for _, repo := range repos {
		tags, err := reg.Tags(repo)
		if err != nil {
			return err
		}
		if len(tags) != keepNewest {
			return fmt.Errorf("%s has %d tags after apply, want %d", repo, len(tags), keepNewest)
		}
	}
	return nil
}

// bestInChild is the fastest run of a floor in a child process.
func bestInChild(ctx context.Context, which, url string, repos []string) (time.Duration, error) {
	return fastest(func() (time.Duration, error) { return floorInChild(ctx, which, url, repos) })
}

// best is the fastest run of f.
func best(f func() error) (time.Duration, error) {
	return fastest(func() (time.Duration, error) {
		start := time.Now()
		err := f()
		return time.Since(start), err
	})
}

func fastest(timed func() (time.Duration, error)) (time.Duration, error) {
	var least, spent time.Duration
	for round := 0; round < maxRounds && (round < minRounds || spent < roundsBudget); round++ {
		d, err := timed()
		if err != nil {
			return 0, err
		}
		spent += d
		if least == 0 || d < least {
			least = d
		}
	}
	return least, nil
}
