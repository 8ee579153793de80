package provider

import (
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// providerData is what Configure hands to every resource, data source and
// action: the registry client, and the clock that retention ages and GC
// run times are read from (as HashiCorp's time provider passes its clock,
// so that tests pin "now").
type providerData struct {
	// client is nil when the provider has no url: a configuration used
	// only for garbage collection of a stopped registry needs none,
	// everything else fails with errNoURL.
	client *registry.Client
	now    func() time.Time
	// hosts are the names image references give the registry, for the
	// deployed images garbage collection keeps (with or without a url).
	hosts retention.Hosts
	// governors is which retention policy governs each repository of this
	// provider configuration's registry, in this Terraform run.
	governors *governors
}

const errNoURL = "the registry URL is not set: set url in the provider block or REGISTRY_URL"

// clientFrom unwraps the client that Configure stored. Terraform validates
// configurations before configuring the provider, so nil is normal and
// means "not yet"; anything else is a provider bug worth a clear report.
func clientFrom(data any, diags *diag.Diagnostics) *registry.Client {
	d, ok := dataFrom(data, diags)
	if ok && d.client == nil {
		diags.AddError("The provider has no registry URL", errNoURL+"; only garbage collection works without one")
	}
	return d.client
}

// gcClientFrom is clientFrom for garbage collection, which works on the
// storage alone and needs no url when the registry is stopped.
func gcClientFrom(data any, diags *diag.Diagnostics) *registry.Client {
	d, _ := dataFrom(data, diags)
	return d.client
}

// clockFrom returns the provider's clock (time.Now before Configure).
func clockFrom(data any) func() time.Time {
	if d, ok := data.(providerData); ok && d.now != nil {
		return d.now
	}
	return time.Now
}

// hostsFrom returns the registry's names, and false before Configure (no
// names known yet).
func hostsFrom(data any) (retention.Hosts, bool) {
	d, ok := data.(providerData)
	return d.hosts, ok
}

// dataFrom unwraps what Configure stored; false when there is nothing yet
// or it is of a wrong type (reported).
func dataFrom(data any, diags *diag.Diagnostics) (providerData, bool) {
	if data == nil {
		return providerData{}, false
	}
	d, ok := data.(providerData)
	if !ok {
		diags.AddError("Unexpected provider data",
			fmt.Sprintf("expected providerData, got %T: please report this issue to the provider developers", data))
	}
	return d, ok
}
