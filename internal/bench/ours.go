package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/devprovider"
	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// clientListAndDescribe is what registry_tags with details does, through
// the provider's own client, for every repository.
func clientListAndDescribe(ctx context.Context, url string, repos []string) error {
	c, err := registry.New(ctx, registry.Config{URL: url, MaxConcurrency: concurrency})
	if err != nil {
		return err
	}
	for _, repo := range repos {
		tags, err := c.Tags(ctx, repo)
		if err != nil {
			return err
		}
		if _, err := c.DescribeTags(ctx, repo, tags); err != nil {
			return err
		}
	}
	return nil
}

// clientDecide is what the retention plan of policyConfig asks of the
// registry, through the provider's own client and engine, without
// Terraform. cacheDir holds the descriptions of earlier runs.
func clientDecide(ctx context.Context, url, order, cacheDir string) error {
	c, err := registry.New(ctx, registry.Config{URL: url, MaxConcurrency: concurrency, CacheDir: cacheDir})
	if err != nil {
		return err
	}
	pattern, err := retention.CompileGlob("bench/*")
	if err != nil {
		return err
	}
	policy := retention.Policy{
		Keep:            []retention.KeepRule{{Newest: keepNewest, OrderBy: retention.Order(order)}},
		Delete:          []retention.DeleteRule{{}},
		DeleteReferrers: true,
	}
	plan, err := c.DecideRetention(ctx, retention.Selection{Include: []*regexp.Regexp{pattern}}, policy, time.Now())
	decisions := plan.Decisions
	if err == nil && len(decisions) != repositories*(tagsPerRepo-keepNewest) {
		err = fmt.Errorf("%d decisions, want %d", len(decisions), repositories*(tagsPerRepo-keepNewest))
	}
	return err
}

func configHeader(url string) string {
	return fmt.Sprintf("terraform {\n  required_providers {\n    registry = { source = %q }\n  }\n}\n", devprovider.Source) +
		fmt.Sprintf("provider \"registry\" {\n  url = %q\n  max_concurrency = %d\n}\n", url, concurrency)
}

// tagsConfig is one registry_tags data source with details per repository.
func tagsConfig(url string, repos []string) string {
	var b strings.Builder
	b.WriteString(configHeader(url))
	for i, repo := range repos {
		fmt.Fprintf(&b, "data \"registry_tags\" \"r%d\" {\n  repository = %q\n  with_details = true\n}\n", i, repo)
	}
	return b.String()
}

// policyConfig keeps the newest 10 tags of every repository by order and
// deletes the rest; extra goes into the resource block.
func policyConfig(url, order string, extra ...string) string {
	return configHeader(url) + fmt.Sprintf(`
resource "registry_retention_policy" "bench" {
  repositories = ["bench/*"]
  keep {
    newest   = %d
    order_by = %q
  }
  delete {}
%s
}
`, keepNewest, order, strings.Join(extra, "\n"))
}

// deployedImages is a keep block of 1,000 image references as a cluster
// reports them: half this registry's (a tag of each repository's oldest
// images, which the policy would otherwise delete), half other registries'.
func deployedImages(url string, repos []string) string {
	host := strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
	var refs []string
	for i := range 500 {
		refs = append(refs, fmt.Sprintf("%q", fmt.Sprintf("%s/%s:%s", host, repos[i%len(repos)], tagName(i/len(repos)))))
		refs = append(refs, fmt.Sprintf("%q", fmt.Sprintf("ghcr.io/org/service%d:1.%d", i, i)))
	}
	return "  keep {\n    images = [" + strings.Join(refs, ", ") + "]\n  }"
}

// terraformBest times a Terraform command over config, init excluded, the
// best of several runs (fastest). Cold runs each start with an empty
// description cache; a warm run follows an unmeasured run that filled it.
func terraformBest(ctx context.Context, config string, warm bool, args ...string) (time.Duration, int64, error) {
	ws, err := initWorkspace(ctx, config, "")
	if err != nil {
		return 0, 0, err
	}
	defer ws.Close()
	if err := useEmptyCache(); err != nil {
		return 0, 0, err
	}
	if warm {
		if err := runTerraform(ctx, ws, args...); err != nil {
			return 0, 0, err
		}
	}
	var peak int64
	wall, err := best(func() error {
		if !warm {
			if err := useEmptyCache(); err != nil {
				return err
			}
		}
		err := runTerraform(ctx, ws, args...)
		peak = max(peak, ws.PeakRSS())
		return err
	})
	return wall, peak, err
}

// pinGoBuildCache sets GOCACHE to Go's build cache as it is now. Go's
// build cache lives under the user cache directory unless GOCACHE says
// where, and useEmptyCache moves that directory: without this, every
// provider build for a new workspace would start cold (and leave 700 MB
// behind).
func pinGoBuildCache() error {
	if os.Getenv("GOCACHE") != "" {
		return nil
	}
	goCache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		return fmt.Errorf("go env GOCACHE: %w", err)
	}
	return os.Setenv("GOCACHE", strings.TrimSpace(string(goCache)))
}

// useEmptyCache points the provider's description cache (under the user
// cache directory) at a new empty directory, removing the previous one.
func useEmptyCache() error {
	dir, err := os.MkdirTemp("", "bench-cache-")
	if err != nil {
		return err
	}
	if previous := os.Getenv("XDG_CACHE_HOME"); strings.HasPrefix(filepath.Base(previous), "bench-cache-") {
		_ = os.RemoveAll(previous)
	}
	return os.Setenv("XDG_CACHE_HOME", dir)
}

// terraformOnce times one Terraform command over config, init excluded.
func terraformOnce(ctx context.Context, config string, args ...string) (time.Duration, int64, error) {
	ws, err := initWorkspace(ctx, config, "")
	if err != nil {
		return 0, 0, err
	}
	defer ws.Close()
	if err := useEmptyCache(); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	err = runTerraform(ctx, ws, args...)
	return time.Since(start), ws.PeakRSS(), err
}

// initWorkspace runs init on config with the CLI at cli, or with
// devprovider's (bin/terraform unless TF_ACC_TERRAFORM_PATH says) when cli
// is empty.
func initWorkspace(ctx context.Context, config, cli string) (*devprovider.Workspace, error) {
	ws, err := devprovider.NewWorkspace(map[string][]byte{"main.tf": []byte(config)})
	if err != nil {
		return nil, err
	}
	if cli != "" {
		ws.CLI = cli
	}
	if err := runTerraform(ctx, ws, "init"); err != nil {
		ws.Close()
		return nil, err
	}
	return ws, nil
}

func runTerraform(ctx context.Context, ws *devprovider.Workspace, args ...string) error {
	var out bytes.Buffer
	if err := ws.Run(ctx, &out, append(args, "-input=false", "-no-color")...); err != nil {
		return fmt.Errorf("%w\n%s", err, out.String())
	}
	return nil
}
