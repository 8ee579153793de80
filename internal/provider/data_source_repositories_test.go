package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func TestAccRepositoriesDataSource(t *testing.T) {
	reg := startRegistry(t)
	for _, repo := range []string{"team/api", "team/web", "tools/ci", "teamless"} {
		mustPush(t, reg, repo, "latest")
	}
	names := func(address string, values ...string) statecheck.StateCheck {
		return statecheck.ExpectKnownValue(address, tfjsonpath.New("names"), knownvalue.ListExact(stringValues(values...)))
	}
	accTest(t, resource.TestStep{
		Config: providerBlock(reg, "") + `
data "registry_repositories" "all" {}
data "registry_repositories" "team" {
  prefix = "team/"
}
data "registry_repositories" "regex" {
  regex = "(api|ci)$"
}`,
		ConfigStateChecks: []statecheck.StateCheck{
			names("data.registry_repositories.all", "team/api", "team/web", "teamless", "tools/ci"),
			names("data.registry_repositories.team", "team/api", "team/web"),
			names("data.registry_repositories.regex", "team/api", "tools/ci"),
		},
	})
}
