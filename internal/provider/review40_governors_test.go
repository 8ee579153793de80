package provider

import (
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// Review 40 (fixed): a second policy over a governed repository whose
// configuration is known only after apply must fail the plan. During
// apply only the new policy is planned again (the governing one is
// unchanged, so Terraform does not plan it again): nothing could compare
// them then, and the new policy would delete what the governing one keeps
// (checked at cleanup). So a policy claims its repositories when they are
// known even if the rest is not, and a policy whose repositories are
// unknown must be its provider configuration's only one.
func TestAccReview40_policyKnownAtApplyEscapesTheOnePolicyRule(t *testing.T) {
	fightAtApply(t, `
resource "terraform_data" "pin" {
  input = "v1"
}

resource "registry_retention_policy" "default" {
  repositories = ["app"] # known: the plan could have compared
  keep {
    tags = [terraform_data.pin.output] # a deployed tag, known after apply
  }
  keep {
    newest   = 1
    order_by = "name"
  }
  delete {}
}
`)
}

// The same with the repositories themselves known only after apply.
func TestAccReview40_repositoriesKnownAtApplyEscapeTheOnePolicyRule(t *testing.T) {
	fightAtApply(t, `
resource "terraform_data" "repo" {
  input = "app"
}

resource "registry_retention_policy" "default" {
  repositories = [terraform_data.repo.output]
  keep {
    newest   = 1
    order_by = "name"
  }
  delete {}
}
`)
}

// fightAtApply applies a policy keeping app's newest two tags, then adds
// second, a policy over app keeping only the newest one.
func fightAtApply(t *testing.T, second string) {
	t.Helper()
	reg := startRegistry(t)
	for _, tag := range []string{"v1", "v2", "v3", "v4"} {
		mustPush(t, reg, "app", tag)
	}
	t.Cleanup(func() { // runs before the registry stops; also when a step failed
		tags, err := reg.Tags("app")
		if err != nil {
			t.Error(err)
			return
		}
		if !slices.Contains(tags, "v3") {
			t.Errorf("app:v3, which the governing policy keeps (newest 2), was deleted by the second policy; tags left %v", tags)
		}
	})
	governing := providerBlock(reg, "") + `
resource "registry_retention_policy" "team" {
  repositories = ["app"]
  keep {
    newest   = 2
    order_by = "name"
  }
  delete {}
}
`
	accTest(t,
		resource.TestStep{Config: governing, Check: expectRegistryTags(reg, "app", "v3", "v4")},
		resource.TestStep{
			Config:      governing + second,
			ExpectError: errorLike(`Two retention policies govern the same repositories|Another policy's repositories are known only after apply|Repositories known only after apply`),
		},
	)
}
