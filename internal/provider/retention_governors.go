package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

// Two retention policies over one repository fight: each plans against
// rules the other does not share, and an apply of one deletes what the
// other keeps (an organisation's "keep the newest 10" and a team's "keep
// every release"). So a repository is governed by one policy, and a plan
// in which two policies of one provider configuration match the same
// repository fails, naming both; exclude_repositories says which one
// governs (the broad default leaves the team's repositories out).
//
// The provider learns of the policies as Terraform plans them, so the
// policy planned second is the one whose plan fails: Terraform names it,
// the error names the first by its repository patterns. A provider
// configuration is one Terraform process per run (Configure makes a new
// client and governors each time), so policies under two provider
// configurations of one registry (aliases) are not compared: one
// configuration per registry is the advice. Two policies with the same
// configuration decide alike and do not fight.

// governors records which policy governs each repository.
type governors struct {
	mu      sync.Mutex
	by      map[string]governor // repository -> the first policy that claimed it
	unknown []string            // policies whose repositories are known only at apply
	catalog []string            // read once per run, for policies with nothing to plan
	read    bool
}

// A policy whose repositories (or exclude_repositories) are known only at
// apply cannot be compared in the plan, and at apply Terraform plans again
// only the resources that change: the other policies are not there to
// compare with. So such a policy must be the only one of its provider
// configuration: the plan fails when there is another, whichever Terraform
// plans first.

// claimUnknown records a policy whose repositories are known only at apply.
func (g *governors) claimUnknown(name string, diags *diag.Diagnostics) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unknown = append(g.unknown, name)
	if len(g.by) > 0 || len(g.unknown) > 1 {
		diags.AddAttributeError(path.Root("repositories"), "Repositories known only after apply",
			"This policy's repositories (or exclude_repositories) are known only after apply, and this provider configuration has another "+
				"retention policy: the plan cannot check that they do not govern the same repositories, and the apply cannot either. "+
				"Make them known at plan time (literal patterns, or apply what they depend on first with -target), or give this policy a provider configuration of its own.")
	}
}

// governor is one policy: its configuration, and how to name it.
type governor struct {
	config string
	name   string
}

// claim records that the policy governs its repositories (governed, or the
// catalog's that it matches when nil), and fails when another does.
func (g *governors) claim(ctx context.Context, client *registry.Client, config tftypes.Value, m retentionModel, governed []string, diags *diag.Diagnostics) {
	if g == nil {
		return
	}
	if governed == nil {
		selection, err := m.selection()
		if err != nil {
			return // reported by the validators
		}
		catalog, err := g.readCatalog(ctx, client)
		if err != nil {
			diags.AddError("Cannot read the registry", err.Error())
			return
		}
		governed = selection.Match(catalog)
	}
	me := governor{config: config.String(), name: describePolicy(m)}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.unknown) > 0 {
		diags.AddAttributeError(path.Root("repositories"), "Another policy's repositories are known only after apply",
			fmt.Sprintf("This provider configuration has a retention policy whose repositories are known only after apply (%s): the plan cannot check that "+
				"it and this one do not govern the same repositories. Make its repositories known at plan time, or give it a provider configuration of its own.",
				strings.Join(g.unknown, "; ")))
	}
	if g.by == nil {
		g.by = map[string]governor{}
	}
	contested := map[string][]string{} // the other policy's name -> repositories both govern
	for _, repo := range governed {
		other, found := g.by[repo]
		switch {
		case !found:
			g.by[repo] = me
		case other.config != me.config:
			contested[other.name] = append(contested[other.name], repo)
		}
	}
	for _, other := range slices.Sorted(maps.Keys(contested)) {
		repos := contested[other]
		named := strings.Join(repos[:min(len(repos), 10)], ", ")
		if len(repos) > 10 {
			named += fmt.Sprintf(" and %d more", len(repos)-10)
		}
		diags.AddAttributeError(path.Root("repositories"), "Two retention policies govern the same repositories",
			fmt.Sprintf("This policy (%s) and another of this provider configuration (%s) both match %s: each would delete what the other keeps. "+
				"Leave each repository to one policy: exclude it in the other (usually the broader default's exclude_repositories), "+
				"or narrow repositories.", me.name, other, named))
	}
}

// readCatalog lists the registry's repositories once per run.
func (g *governors) readCatalog(ctx context.Context, client *registry.Client) ([]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.read {
		return g.catalog, nil
	}
	catalog, err := client.Repositories(ctx)
	if err == nil {
		g.catalog, g.read = catalog, true
	}
	return catalog, err
}

// describePolicy names a policy by its repository patterns.
func describePolicy(m retentionModel) string {
	s := "repositories = " + hclStrings(m.Repositories)
	if len(m.Exclude) > 0 {
		s += ", exclude_repositories = " + hclStrings(m.Exclude)
	}
	return s
}

// hclStrings writes strings as an HCL list.
func hclStrings(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = fmt.Sprintf("%q", v)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// claimPartlyKnown claims the repositories of a policy whose configuration
// is partly unknown: by its patterns when they are known, else as unknown.
func (r *RetentionPolicyResource) claimPartlyKnown(ctx context.Context, req resource.ModifyPlanRequest, diags *diag.Diagnostics) {
	if !rawAttribute(req.Config.Raw, "repositories").IsFullyKnown() || !rawAttribute(req.Config.Raw, "exclude_repositories").IsFullyKnown() {
		r.governors.claimUnknown("a policy with repositories known only after apply", diags)
		return
	}
	var m retentionModel
	diags.Append(req.Config.GetAttribute(ctx, path.Root("repositories"), &m.Repositories)...)
	diags.Append(req.Config.GetAttribute(ctx, path.Root("exclude_repositories"), &m.Exclude)...)
	if !diags.HasError() {
		r.governors.claim(ctx, r.client, req.Config.Raw, m, nil, diags)
	}
}
