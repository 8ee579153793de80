package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// configure runs the provider's Configure on a provider block with the
// given attributes and REGISTRY_* environment, as Terraform does before
// planning.
func configure(t *testing.T, env map[string]string, set map[string]tftypes.Value) diag.Diagnostics {
	t.Helper()
	ctx := context.Background()
	for _, name := range []string{"REGISTRY_URL", "REGISTRY_USERNAME", "REGISTRY_PASSWORD", "REGISTRY_TOKEN"} {
		unsetEnv(t, name)
	}
	for name, value := range env {
		t.Setenv(name, value)
	}
	p := New("test")()
	var schema provider.SchemaResponse
	p.Schema(ctx, provider.SchemaRequest{}, &schema)
	objectType := schema.Schema.Type().TerraformType(ctx).(tftypes.Object)
	attributes := map[string]tftypes.Value{}
	for name, typ := range objectType.AttributeTypes {
		attributes[name] = tftypes.NewValue(typ, nil)
	}
	for name, v := range set {
		attributes[name] = v
	}
	var resp provider.ConfigureResponse
	p.Configure(ctx, provider.ConfigureRequest{Config: tfsdk.Config{Schema: schema.Schema, Raw: tftypes.NewValue(objectType, attributes)}}, &resp)
	return resp.Diagnostics
}

// warning is the warning with that summary, nil when there is none.
func warning(diags diag.Diagnostics, summary string) diag.Diagnostic {
	for _, d := range diags.Warnings() {
		if d.Summary() == summary {
			return d
		}
	}
	return nil
}

// Plan-time warnings when the connection does not protect what it
// carries. Credentials may come from the environment, which only
// Configure sees. A warning about clear text names the host.
func TestConfigureWarnsAboutInsecureConnections(t *testing.T) {
	const unverified, clearText = "TLS certificates are not verified", "Credentials sent in clear text"
	yes := tftypes.NewValue(tftypes.Bool, true)
	for _, c := range []struct {
		name    string
		env     map[string]string
		set     map[string]tftypes.Value
		summary string
		host    string // named in the warning; "" when there is none
	}{
		{"insecure_skip_verify", nil, map[string]tftypes.Value{"url": str("https://registry.example.com"), "insecure_skip_verify": yes}, unverified, "registry.example.com"},
		{"verified TLS", nil, map[string]tftypes.Value{"url": str("https://registry.example.com")}, unverified, ""},
		{"password over http", nil, map[string]tftypes.Value{"url": str("http://registry.example.com:5000"), "username": str("ci"), "password": str("p")}, clearText, "registry.example.com:5000"},
		{"token over http", nil, map[string]tftypes.Value{"url": str("http://10.0.0.7"), "bearer_token": str("t")}, clearText, "10.0.0.7"},
		{"docker config over http", nil, map[string]tftypes.Value{"url": str("http://registry.internal"), "docker_config": yes}, clearText, "registry.internal"},
		{"credentials from the environment", map[string]string{"REGISTRY_URL": "http://registry.internal", "REGISTRY_USERNAME": "ci", "REGISTRY_PASSWORD": "p"}, nil, clearText, "registry.internal"},
		{"password over https", nil, map[string]tftypes.Value{"url": str("https://registry.example.com"), "username": str("ci"), "password": str("p")}, clearText, ""},
		{"password to 127.0.0.1", nil, map[string]tftypes.Value{"url": str("http://127.0.0.1:5000"), "username": str("ci"), "password": str("p")}, clearText, ""},
		{"token to 127.8.0.1", map[string]string{"REGISTRY_TOKEN": "t"}, map[string]tftypes.Value{"url": str("http://127.8.0.1")}, clearText, ""},
		{"password to ::1", nil, map[string]tftypes.Value{"url": str("http://[::1]:5000"), "username": str("ci"), "password": str("p")}, clearText, ""},
		{"password to localhost", nil, map[string]tftypes.Value{"url": str("http://localhost:5000"), "username": str("ci"), "password": str("p")}, clearText, ""},
		{"anonymous over http", nil, map[string]tftypes.Value{"url": str("http://registry.example.com")}, clearText, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			diags := configure(t, c.env, c.set)
			if diags.HasError() {
				t.Fatal(diags)
			}
			w := warning(diags, c.summary)
			switch {
			case c.host == "" && w != nil:
				t.Errorf("unexpected warning %q: %s", c.summary, w.Detail())
			case c.host != "" && (w == nil || !strings.Contains(w.Detail(), c.host)):
				t.Errorf("want a warning %q naming %s, got %v", c.summary, c.host, diags)
			}
		})
	}
}

// A ca_pem that holds no certificate is an error on ca_pem that says what
// to give instead.
func TestConfigureRefusesCAPEMWithoutCertificate(t *testing.T) {
	diags := configure(t, nil, map[string]tftypes.Value{"url": str("https://registry.example.com"), "ca_pem": str("ca.pem")})
	if len(diags.Errors()) != 1 {
		t.Fatalf("want one error, got %v", diags)
	}
	d, ok := diags.Errors()[0].(diag.DiagnosticWithPath)
	if !ok || !d.Path().Equal(path.Root("ca_pem")) || !strings.Contains(d.Detail(), "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("want an error on ca_pem saying what it must hold, got %v", diags)
	}
}

// A private registry as they run: TLS with a private CA, token auth, and
// credentials from a credential helper. Through Terraform, ca_pem and
// docker_config reach the client, insecure_skip_verify gets through, and a
// certificate from another CA is refused with an error naming ca_pem.
func TestAccProvider_privateRegistry(t *testing.T) {
	ca := testregistry.NewCA(t)
	reg := startRegistry(t, testregistry.WithTLS(ca), testregistry.WithTokenAuth("ci", "s3cret"))
	mustPush(t, reg, "app", "v1")
	reg.InstallCredentialHelper(t, "testhelper")
	testregistry.UseDockerConfig(t, reg.DockerConfigHelper("testhelper"))
	trusted := fmt.Sprintf("ca_pem = %q", ca.PEM)
	fromHelper := fmt.Sprintf("provider \"registry\" {\n  url = %q\n  docker_config = true\n  %s\n}\n", reg.URL, trusted)
	data := "data \"registry_tags\" \"app\" {\n  repository = \"app\"\n}\n"
	read := []statecheck.StateCheck{expectTags("data.registry_tags.app", "v1")}
	accTest(t,
		resource.TestStep{Config: providerBlock(reg, "", trusted) + data, ConfigStateChecks: read},
		resource.TestStep{Config: fromHelper + data, ConfigStateChecks: read},
		resource.TestStep{Config: providerBlock(reg, "", "insecure_skip_verify = true") + data, ConfigStateChecks: read},
		resource.TestStep{
			Config:      providerBlock(reg, "", fmt.Sprintf("ca_pem = %q", testregistry.NewCA(t).PEM)) + data,
			ExpectError: errorLike(`not signed by a trusted CA[\s\S]*set ca_pem`),
		},
	)
}
