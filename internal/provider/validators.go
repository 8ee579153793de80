package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// globRun is a run of glob characters in a repository pattern.
var globRun = regexp.MustCompile(`[*?]+`)

// stringCheck adapts a parse function into a plan-time string validator,
// so each validator is the library's own parser and one sentence.
type stringCheck struct {
	description string
	check       func(string) error
}

var (
	_ validator.String = stringCheck{}

	urlValidator = stringCheck{
		description: "must be https://host[:port] or http://host[:port]",
		check:       func(s string) error { _, err := registry.ParseURL(s); return err },
	}
	durationValidator = stringCheck{
		description: "must be a positive Go duration such as 30s or 168h",
		check:       func(s string) error { _, err := parsePositiveDuration(s); return err },
	}
	regexValidator = stringCheck{
		description: "must be a valid RE2 regular expression",
		check: func(s string) error {
			if _, err := regexp.Compile(s); err != nil {
				return fmt.Errorf("%q is not a valid regular expression (RE2 syntax, see https://golang.org/s/re2syntax): %w", s, err)
			}
			return nil
		},
	}
	repositoryValidator = stringCheck{
		description: "must be a repository path such as team/app",
		check:       registry.ValidateRepository,
	}
	deletableRepositoryValidator = stringCheck{
		description: "must be a repository path such as team/app, outside " + retention.ProviderNamespace,
		check:       checkDeletableRepository,
	}
	digestValidator = stringCheck{
		description: "must be a digest such as sha256:<64 hex digits>",
		check: func(s string) error {
			if !registry.IsDigest(s) {
				return fmt.Errorf("%q is not a digest: write it as sha256:<64 lowercase hex digits> (registry_digest resolves a tag to one)", s)
			}
			return nil
		},
	}
	globValidator = stringCheck{
		description: "must be a repository pattern such as team/* or team/**",
		check: func(s string) error {
			// Glob characters aside, a pattern follows the repository grammar:
			// each run of them stands for a name part here.
			if registry.ValidateRepository(globRun.ReplaceAllString(s, "a")) != nil {
				return fmt.Errorf("%q is not a valid repository pattern: write repository names (lowercase components separated by single '/', "+
					"no empty, '.' or '..' component) with '*' and '?' within a component and '**' across '/', like team/* or team/**", s)
			}
			_, err := retention.CompileGlob(s)
			return err
		},
	}
	hostValidator = stringCheck{
		description: "must be a registry host such as registry.example.com or 10.0.0.5:5000",
		check:       retention.ValidateHost,
	}
	imageValidator = stringCheck{
		description: "must be an image reference such as registry.example.com/team/app:v1 or registry.example.com/team/app@sha256:<hex>",
		check:       func(s string) error { _, _, err := retention.ParseImages([]string{s}, nil); return err },
	}
	tagValidator = stringCheck{
		description: "must be a valid tag",
		check:       registry.ValidateTag,
	}
)

// checkDeletableRepository accepts a repository an explicit deletion may
// touch: any valid one but the provider's own (retention.ProviderNamespace),
// whose journal the applies read to put back what a race took.
func checkDeletableRepository(repo string) error {
	if err := registry.ValidateRepository(repo); err != nil {
		return err
	}
	if strings.HasPrefix(repo, retention.ProviderNamespace) {
		return fmt.Errorf("%q is one of the provider's own repositories (%s*: the journal of its deletions, which applies read to restore "+
			"what a race took), and explicit deletions never touch them; name one of your repositories instead", repo, retention.ProviderNamespace)
	}
	return nil
}

func (v stringCheck) Description(context.Context) string         { return v.description }
func (v stringCheck) MarkdownDescription(context.Context) string { return v.description }

func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(), err.Error())
	}
}
