package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// noSecretInState fails when the state holds any of the secrets.
type noSecretInState []string

func (s noSecretInState) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	raw, err := json.Marshal(req.State)
	if err != nil {
		resp.Error = err
		return
	}
	for _, secret := range s {
		if strings.Contains(string(raw), secret) {
			resp.Error = fmt.Errorf("the state holds a secret (%d characters)", len(secret))
		}
	}
}

// Secrets never appear in logs at TRACE, in errors or in state: a password,
// its basic-auth encoding (as an Authorization header and as a Docker config
// "auths" entry) and a bearer token, through a plan, an apply, a data source
// and a rejected login, whose error text the log holds.
func TestAccProvider_secretsStayOutOfLogsErrorsAndState(t *testing.T) {
	reg := startRegistry(t, testregistry.WithBasicAuth("ci", "pa55-w0rd-kept-secret"))
	mustPush(t, reg, "app", "pr-1")
	mustPush(t, reg, "app", "main")
	token := "tok-kept-secret-0123456789"
	secrets := []string{reg.Password, base64.StdEncoding.EncodeToString([]byte("ci:" + reg.Password)), token}
	logs := t.TempDir()
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_LOG_PROVIDER", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", filepath.Join(logs, "terraform-and-provider.log"))
	// The secrets reach the configuration through sensitive variables, as
	// users pass them: the test harness logs the configuration's text.
	t.Setenv("TF_VAR_password", reg.Password)
	t.Setenv("TF_VAR_wrong_password", "not-"+reg.Password)
	t.Setenv("TF_VAR_token", token)
	variables := `
variable "password" {
  type      = string
  sensitive = true
}
variable "wrong_password" {
  type      = string
  sensitive = true
}
variable "token" {
  type      = string
  sensitive = true
}
`
	provider := fmt.Sprintf("provider \"registry\" {\n  url = %q\n  username = \"ci\"\n  password = var.password\n}\n", reg.URL)
	wrong := fmt.Sprintf("provider \"registry\" {\n  url = %q\n  username = \"ci\"\n  password = var.wrong_password\n}\n", reg.URL)
	anonymous := startRegistry(t) // takes any token: the plan runs through
	withToken := fmt.Sprintf("provider \"registry\" {\n  url = %q\n  bearer_token = var.token\n}\n", anonymous.URL)
	testregistry.UseDockerConfig(t, reg.DockerConfigAuths())
	fromDockerConfig := fmt.Sprintf("provider \"registry\" {\n  url = %q\n  docker_config = true\n}\n", reg.URL)
	policy := `
data "registry_tags" "app" {
  repository = "app"
}
resource "registry_retention_policy" "this" {
  repositories = ["app"]
  delete {
    tag_regex = "^pr-"
  }
}`
	// One provider configuration a step: the in-process provider server is
	// shared by aliases.
	accTest(t,
		resource.TestStep{
			Config:            variables + provider + policy,
			ConfigStateChecks: []statecheck.StateCheck{noSecretInState(secrets)},
		},
		resource.TestStep{
			PreConfig:         func() { mustPush(t, reg, "app", "pr-2") }, // something to delete with these credentials
			Config:            variables + fromDockerConfig + policy,
			ConfigStateChecks: []statecheck.StateCheck{noSecretInState(secrets)},
			Check:             expectRegistryTags(reg, "app", "main"),
		},
		resource.TestStep{
			Config:            variables + withToken + "data \"registry_repositories\" \"all\" {}\n",
			ConfigStateChecks: []statecheck.StateCheck{noSecretInState(secrets)},
		},
		resource.TestStep{
			Config:      variables + wrong + "data \"registry_tags\" \"app\" {\n  repository = \"app\"\n}\n",
			ExpectError: errorLike(`rejected the credentials \(401 Unauthorized\)`),
		},
	)
	entries, err := os.ReadDir(logs)
	if err != nil || len(entries) == 0 {
		t.Fatalf("no logs written (%v): the test would prove nothing", err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(logs, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, logged := range []string{"registry_retention_policy", "rejected the credentials"} {
			if !strings.Contains(string(raw), logged) {
				t.Errorf("%s does not log %q: the run at TRACE, with its errors, would not be checked", e.Name(), logged)
			}
		}
		for _, secret := range secrets {
			if strings.Contains(string(raw), secret) {
				t.Errorf("%s holds a secret (%d characters)", e.Name(), len(secret))
			}
		}
	}
}
