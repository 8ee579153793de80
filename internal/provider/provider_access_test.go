package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// configure runs the provider's Configure on a provider block with the
// given attributes, as Terraform does before planning.
func configure(t *testing.T, set map[string]tftypes.Value) diag.Diagnostics {
	t.Helper()
	ctx := context.Background()
	for _, env := range []string{"REGISTRY_URL", "REGISTRY_USERNAME", "REGISTRY_PASSWORD", "REGISTRY_TOKEN"} {
		unsetEnv(t, env)
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

func warnedAbout(diags diag.Diagnostics, summary string) bool {
	for _, d := range diags.Warnings() {
		if d.Summary() == summary {
			return true
		}
	}
	return false
}

func TestConfigureWarnsAboutInsecureConnections(t *testing.T) {
	yes := tftypes.NewValue(tftypes.Bool, true)
	for _, c := range []struct {
		name    string
		set     map[string]tftypes.Value
		summary string
		warned  bool
	}{
		{"insecure_skip_verify", map[string]tftypes.Value{"url": str("https://registry.example.com"), "insecure_skip_verify": yes}, "TLS certificates are not verified", true},
		{"verified TLS", map[string]tftypes.Value{"url": str("https://registry.example.com")}, "TLS certificates are not verified", false},
		{"password over http", map[string]tftypes.Value{"url": str("http://registry.example.com:5000"), "username": str("ci"), "password": str("p")}, "Credentials sent in clear text", true},
		{"token over http", map[string]tftypes.Value{"url": str("http://10.0.0.7"), "bearer_token": str("t")}, "Credentials sent in clear text", true},
		{"docker config over http", map[string]tftypes.Value{"url": str("http://registry.internal"), "docker_config": yes}, "Credentials sent in clear text", true},
		{"password over https", map[string]tftypes.Value{"url": str("https://registry.example.com"), "username": str("ci"), "password": str("p")}, "Credentials sent in clear text", false},
		{"password to loopback", map[string]tftypes.Value{"url": str("http://127.0.0.1:5000"), "username": str("ci"), "password": str("p")}, "Credentials sent in clear text", false},
		{"password to localhost", map[string]tftypes.Value{"url": str("http://localhost:5000"), "username": str("ci"), "password": str("p")}, "Credentials sent in clear text", false},
		{"anonymous over http", map[string]tftypes.Value{"url": str("http://registry.example.com")}, "Credentials sent in clear text", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			diags := configure(t, c.set)
			if diags.HasError() {
				t.Fatal(diags)
			}
			if got := warnedAbout(diags, c.summary); got != c.warned {
				t.Errorf("warned %q = %v, want %v (%v)", c.summary, got, c.warned, diags)
			}
		})
	}
}
