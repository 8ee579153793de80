package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

// noRegistry is what Configure stores when the provider has no url: a
// configuration used only for garbage collection of a stopped registry
// needs none, everything else fails with errNoURL.
type noRegistry struct{}

const errNoURL = "the registry URL is not set: set url in the provider block or REGISTRY_URL"

// clientFrom unwraps the client that Configure stored. Terraform validates
// configurations before configuring the provider, so nil is normal and
// means "not yet"; anything else is a provider bug worth a clear report.
func clientFrom(providerData any, diags *diag.Diagnostics) *registry.Client {
	if _, ok := providerData.(noRegistry); ok {
		diags.AddError("The provider has no registry URL", errNoURL+"; only garbage collection works without one")
		return nil
	}
	return registryClient(providerData, diags)
}

// gcClientFrom is clientFrom for garbage collection, which works on the
// storage alone and needs no url when the registry is stopped.
func gcClientFrom(providerData any, diags *diag.Diagnostics) *registry.Client {
	if _, ok := providerData.(noRegistry); ok {
		return nil
	}
	return registryClient(providerData, diags)
}

func registryClient(providerData any, diags *diag.Diagnostics) *registry.Client {
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
