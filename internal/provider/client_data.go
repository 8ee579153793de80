package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

// clientFrom unwraps the client that Configure stored. Terraform validates
// configurations before configuring the provider, so nil is normal and
// means "not yet"; anything else is a provider bug worth a clear report.
func clientFrom(providerData any, diags *diag.Diagnostics) *registry.Client {
	if providerData == nil {
		return nil
	}
	client, ok := providerData.(*registry.Client)
	if !ok {
		diags.AddError("Unexpected provider data",
			fmt.Sprintf("expected *registry.Client, got %T: please report this issue to the provider developers", providerData))
	}
	return client
}
