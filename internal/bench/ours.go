package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/devprovider"
	"github.com/distreg/terraform-provider-registry/internal/registry"
)

// clientListAndDescribe is what registry_tags with details does, through
// the provider's own client, for every repository at once.
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

// terraformPlan times `terraform plan` over one registry_tags data source
// per repository: the whole product path, CLI and plugin start included.
// init runs once beforehand and is not timed.
func terraformPlan(ctx context.Context, url string, repos []string) (time.Duration, error) {
	var config strings.Builder
	fmt.Fprintf(&config, "terraform {\n  required_providers {\n    registry = { source = %q }\n  }\n}\n", devprovider.Source)
	fmt.Fprintf(&config, "provider \"registry\" {\n  url = %q\n  max_concurrency = %d\n}\n", url, concurrency)
	for i, repo := range repos {
		fmt.Fprintf(&config, "data \"registry_tags\" \"r%d\" {\n  repository = %q\n  with_details = true\n}\n", i, repo)
	}
	ws, err := devprovider.NewWorkspace(map[string][]byte{"main.tf": []byte(config.String())})
	if err != nil {
		return 0, err
	}
	defer ws.Close()
	var out bytes.Buffer
	if err := ws.Run(ctx, &out, "init", "-input=false"); err != nil {
		return 0, fmt.Errorf("%w\n%s", err, out.String())
	}
	return best(func() error {
		out.Reset()
		if err := ws.Run(ctx, &out, "plan", "-input=false", "-refresh=true"); err != nil {
			return fmt.Errorf("%w\n%s", err, out.String())
		}
		return nil
	})
}
