package provider

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// protoV6Providers serves the provider in-process to the real CLI.
var protoV6Providers = map[string]func() (tfprotov6.ProviderServer, error){
	"registry": NewServer("test"),
}

// providerBlock configures a provider for reg; alias may be empty.
func providerBlock(reg *testregistry.Registry, alias string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "provider \"registry\" {\n  url = %q\n", reg.URL)
	if alias != "" {
		fmt.Fprintf(&b, "  alias = %q\n", alias)
	}
	if reg.Username != "" {
		fmt.Fprintf(&b, "  username = %q\n  password = %q\n", reg.Username, reg.Password)
	}
	for _, line := range extra {
		fmt.Fprintf(&b, "  %s\n", line)
	}
	b.WriteString("}\n")
	return b.String()
}

func testAccPreCheck(t *testing.T) {
	t.Helper()
	for _, env := range []string{"REGISTRY_URL", "REGISTRY_USERNAME", "REGISTRY_PASSWORD", "REGISTRY_TOKEN"} {
		if os.Getenv(env) != "" {
			t.Fatalf("%s is set in the environment; acceptance tests configure the provider themselves", env)
		}
	}
}

func accTest(t *testing.T, steps ...resource.TestStep) {
	t.Helper()
	accTestWith(t, protoV6Providers, steps)
}

// accTestAt is accTest with the provider's clock pinned at now, so that
// ages are exact.
func accTestAt(t *testing.T, now time.Time, steps ...resource.TestStep) {
	t.Helper()
	accTestWith(t, map[string]func() (tfprotov6.ProviderServer, error){
		"registry": serverOf(newWithClock("test", func() time.Time { return now })),
	}, steps)
}

func accTestWith(t *testing.T, providers map[string]func() (tfprotov6.ProviderServer, error), steps []resource.TestStep) {
	t.Helper()
	t.Setenv("REGISTRY_CACHE_DIR", t.TempDir()) // no test sees another's descriptions or plan records
	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { testAccPreCheck(t) },
		ProtoV6ProviderFactories: providers,
		Steps:                    steps,
	})
}

func stringValues(values ...string) []knownvalue.Check {
	checks := make([]knownvalue.Check, len(values))
	for i, v := range values {
		checks[i] = knownvalue.StringExact(v)
	}
	return checks
}

func expectTags(address string, tags ...string) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(address, tfjsonpath.New("tags"), knownvalue.ListExact(stringValues(tags...)))
}

// Terraform runs one provider process per provider configuration, but the
// in-process test server is a single instance shared by every alias, so
// aliases are tested against the compiled binary installed from a local mirror,
// exactly as users run it.
func TestAccProvider_aliasesTalkToTheirOwnRegistry(t *testing.T) {
	a := startRegistry(t)
	b := startRegistry(t, testregistry.WithBasicAuth("ci", "s3cret"))
	mustPush(t, a, "shared/app", "from-a")
	mustPush(t, b, "shared/app", "from-b")

	resource.Test(t, resource.TestCase{
		PreCheck:          func() { testAccPreCheck(t) },
		ExternalProviders: useBuiltProvider(t),
		Steps: []resource.TestStep{{
			Config: providerBlock(a, "a") + providerBlock(b, "b") + `
data "registry_tags" "a" {
  provider   = registry.a
  repository = "shared/app"
}
data "registry_tags" "b" {
  provider   = registry.b
  repository = "shared/app"
}`,
			ConfigStateChecks: []statecheck.StateCheck{
				expectTags("data.registry_tags.a", "from-a"),
				expectTags("data.registry_tags.b", "from-b"),
			},
		}},
	})
}

func TestAccProvider_auth(t *testing.T) {
	for name, opt := range map[string]testregistry.Option{
		"htpasswd": testregistry.WithBasicAuth("ci", "s3cret"),
		"token":    testregistry.WithTokenAuth("ci", "s3cret"),
	} {
		t.Run(name, func(t *testing.T) {
			reg := startRegistry(t, opt)
			mustPush(t, reg, "private/app", "v1")
			wrongPassword := fmt.Sprintf("provider \"registry\" {\n  url = %q\n  username = %q\n  password = \"wrong\"\n}\n", reg.URL, reg.Username)
			data := `
data "registry_tags" "app" {
  repository = "private/app"
}`
			accTest(t,
				resource.TestStep{
					Config:            providerBlock(reg, "") + data,
					ConfigStateChecks: []statecheck.StateCheck{expectTags("data.registry_tags.app", "v1")},
				},
				resource.TestStep{
					Config:      wrongPassword + data,
					ExpectError: errorLike(`rejected the credentials \(401 Unauthorized\)`),
				},
			)
		})
	}
}

func TestAccProvider_environment(t *testing.T) {
	reg := startRegistry(t, testregistry.WithBasicAuth("ci", "s3cret"))
	mustPush(t, reg, "env/app", "v1")
	accTest(t, resource.TestStep{
		PreConfig: func() {
			t.Setenv("REGISTRY_URL", reg.URL)
			t.Setenv("REGISTRY_USERNAME", "ci")
			t.Setenv("REGISTRY_PASSWORD", "s3cret")
		},
		Config:            `data "registry_tags" "app" { repository = "env/app" }`,
		ConfigStateChecks: []statecheck.StateCheck{expectTags("data.registry_tags.app", "v1")},
	})
}

func TestAccProvider_badInput(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "known/app", "v1")
	tags := `
data "registry_tags" "app" {
  repository = "known/app"
}`
	cases := map[string]struct {
		config string
		err    string
	}{
		"url without host": {
			config: `provider "registry" { url = "https://" }` + tags,
			err:    `Invalid url(.|\n)*has no host`,
		},
		"password and bearer_token": {
			config: providerBlock(reg, "", `username = "ci"`, `password = "x"`, `bearer_token = "t"`) + tags,
			err:    `(?s)Invalid Attribute Combination.*bearer_token`,
		},
		"negative concurrency": {
			config: providerBlock(reg, "", "max_concurrency = -1") + tags,
			err:    `(?s)max_concurrency.*must be between 1 and 256`,
		},
		"unparsable duration": {
			config: providerBlock(reg, "", `request_timeout = "soon"`) + tags,
			err:    `(?s)Invalid request_timeout.*"soon" is not a positive duration`,
		},
		"unknown repository": {
			config: providerBlock(reg, "") + `data "registry_tags" "x" { repository = "nope/app" }`,
			err:    `repository "nope/app" does not exist`,
		},
		"invalid regex": {
			config: providerBlock(reg, "") + `
data "registry_tags" "x" {
  repository = "known/app"
  tag_regex  = "v[0-9"
}`,
			err: `(?s)Invalid tag_regex.*"v\[0-9" is not a valid regular expression`,
		},
		"invalid repository name": {
			config: providerBlock(reg, "") + `data "registry_tags" "x" { repository = "Team/App" }`,
			err:    `(?s)Invalid repository.*not a valid repository name`,
		},
		"unknown order": {
			config: providerBlock(reg, "") + `
data "registry_tags" "x" {
  repository = "known/app"
  order_by   = "date"
}`,
			err: `(?s)order_by.*value must be one of`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			accTest(t, resource.TestStep{Config: tc.config, ExpectError: errorLike(tc.err)})
		})
	}
}
