// Command bench is `make bench`: it measures the provider against the floor
// the registry itself sets, in one run on one machine, and prints ratios.
// Nothing here is asserted: timings belong in reports, not in tests.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

const (
	repositories  = 20
	tagsPerRepo   = 500
	concurrency   = registry.DefaultMaxConcurrency
	roundsPerCase = 2 // the best of two damps noise from a busy machine
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "bench failed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	reg, err := testregistry.New(ctx)
	if err != nil {
		return err
	}
	defer reg.Close()
	repos, err := seed(reg)
	if err != nil {
		return err
	}
	fmt.Printf("registry_tags with details over %d repositories x %d tags (%d tags, %d distinct images), max_concurrency %d, %d CPUs\n\n",
		repositories, tagsPerRepo, repositories*tagsPerRepo, repositories*tagsPerRepo, concurrency, runtime.NumCPU())

	floor, err := best(func() error { return floorListAndDescribe(ctx, reg, repos) })
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	client, err := best(func() error { return clientListAndDescribe(ctx, reg.URL, repos) })
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	plan, err := terraformPlan(ctx, reg.URL, repos)
	if err != nil {
		return fmt.Errorf("terraform plan: %w", err)
	}
	report("floor: minimal go-containerregistry loop", floor, floor)
	report("provider client (internal/registry)", client, floor)
	report("terraform plan, 20 registry_tags data sources", plan, floor)
	return nil
}

func seed(reg *testregistry.Registry) ([]string, error) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	repos := make([]string, repositories)
	for r := range repos {
		repos[r] = fmt.Sprintf("bench/app%02d", r)
		_, err := reg.SeedTags(repos[r], tagsPerRepo,
			func(i int) string { return fmt.Sprintf("v1.%d.%d", i/10, i%10) },
			func(i int) time.Time { return start.Add(time.Duration(r*tagsPerRepo+i) * time.Minute) })
		if err != nil {
			return nil, err
		}
	}
	return repos, nil
}

func best(f func() error) (time.Duration, error) {
	var fastest time.Duration
	for range roundsPerCase {
		start := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		if d := time.Since(start); fastest == 0 || d < fastest {
			fastest = d
		}
	}
	return fastest, nil
}

func report(what string, d, floor time.Duration) {
	fmt.Printf("%-48s %8.2fs  %5.2fx floor\n", what, d.Seconds(), d.Seconds()/floor.Seconds())
}
