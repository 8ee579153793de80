package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// largeApply is the size of the apply behind the state of
// TestRetentionPolicy_planAfterALargeApply: the deletions of a
// 50,000-image cleanup.
const largeApply = 49_000

// After an apply that deleted a great deal, the state holds every
// deletion (Terraform requires the applied state to equal the plan). The
// next refresh keeps none of them, so the plan after it carries no history:
// this test hands the provider that state through the plugin protocol, as
// Terraform does (upgrade from JSON, read, plan), and checks that the
// refreshed state holds no deletions, the plan is that state unchanged,
// and each step stays far below the cost of converting the list through
// the framework.
func TestRetentionPolicy_planAfterALargeApply(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.Start(t)
	mustPush(t, reg, "bulk/app", "v1.0.0", "v1.0.1")
	server, err := NewServer("test")()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	providerConfig := dynamicValue(t, schemas.Provider.ValueType(), map[string]tftypes.Value{
		"url": str(reg.URL), "cache_dir": str(""),
	})
	if resp, err := server.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{Config: providerConfig}); err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("configure: %v %v", err, resp.Diagnostics)
	}
	typ := schemas.ResourceSchemas[retentionPolicyType].ValueType().(tftypes.Object)
	config := policyValue(typ, nil, false)
	applied := policyValue(typ, largeDeletions(largeApply), true)
	applied = replaced(applied, map[string]tftypes.Value{"replica_deletions": replicaDeletionsValue(largeDeletions(largeApply))}) // and its replica's part
	rawState, err := json.Marshal(jsonOf(applied))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("state after the apply: %d deletions, %d MB of JSON", largeApply, len(rawState)>>20)

	step := measure(t)
	upgraded, err := server.UpgradeResourceState(ctx, &tfprotov6.UpgradeResourceStateRequest{
		TypeName: retentionPolicyType, Version: 0, RawState: &tfprotov6.RawState{JSON: rawState},
	})
	if err != nil || diagnosticErrors(upgraded.Diagnostics) != "" {
		t.Fatalf("upgrade: %v %s", err, diagnosticErrors(upgraded.Diagnostics))
	}
	step("upgrade")
	read, err := server.ReadResource(ctx, &tfprotov6.ReadResourceRequest{TypeName: retentionPolicyType, CurrentState: upgraded.UpgradedState})
	if err != nil || diagnosticErrors(read.Diagnostics) != "" {
		t.Fatalf("read: %v %s", err, diagnosticErrors(read.Diagnostics))
	}
	step("read")
	refreshed, err := read.NewState.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	var attributes map[string]tftypes.Value
	if err := refreshed.As(&attributes); err != nil {
		t.Fatal(err)
	}
	var deletions, pending []tftypes.Value
	if err := attributes["deletions"].As(&deletions); err != nil || len(deletions) != 0 {
		t.Fatalf("refreshed deletions: %d entries (%v), want none: the state carries the last apply into every later plan", len(deletions), err)
	}
	if err := attributes["pending_deletions"].As(&pending); err != nil || len(pending) != 0 {
		t.Fatalf("refreshed pending_deletions: %d entries (%v), want none", len(pending), err)
	}
	var byReplica map[string]tftypes.Value
	if err := attributes["replica_deletions"].As(&byReplica); err != nil || len(byReplica) != 0 {
		t.Fatalf("refreshed replica_deletions: %d replicas (%v), want none: the state carries the last apply into every later plan", len(byReplica), err)
	}
	// What stays is the configuration and summary's counts per repository.
	if size := len(read.NewState.MsgPack); size > 16<<10 {
		t.Fatalf("refreshed state: %d bytes, want a few kilobytes", size)
	}

	// Terraform proposes the configuration with the computed values of
	// the refreshed state; the plan must be that state, unchanged.
	proposed := withConfig(refreshed, config)
	planned, err := server.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
		TypeName: retentionPolicyType, PriorState: read.NewState,
		ProposedNewState: mustDynamic(t, typ, proposed), Config: mustDynamic(t, typ, config),
	})
	if err != nil || diagnosticErrors(planned.Diagnostics) != "" {
		t.Fatalf("plan: %v %s", err, diagnosticErrors(planned.Diagnostics))
	}
	step("plan")
	plan, err := planned.PlannedState.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	if diffs, err := plan.Diff(refreshed); err != nil || len(diffs) > 0 {
		t.Fatalf("the plan after the apply differs from the refreshed state: %v %v", diffs, err)
	}
}

// measure logs the time and the allocations of each step, and fails a step
// that allocates more than a few times the state it reads: converting the
// deletions through the framework's reflection allocates gigabytes.
func measure(t *testing.T) func(step string) {
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	return func(step string) {
		t.Helper()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		allocated := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %v, %d MB allocated", step, time.Since(start).Round(time.Millisecond), allocated>>20)
		if allocated > 400<<20 {
			t.Errorf("%s allocated %d MB for a state of %d deletions", step, allocated>>20, largeApply)
		}
		before, start = after, time.Now()
	}
}

// policyValue is a policy over bulk/** keeping the newest 10 by semver, as
// configured (state false: computed values null) or as applied with
// deletions.
func policyValue(typ tftypes.Object, deletions []decisionModel, state bool) tftypes.Value {
	keepType := typ.AttributeTypes["keep"].(tftypes.List)
	deleteType := typ.AttributeTypes["delete"].(tftypes.List)
	null := func(name string) tftypes.Value {
		return tftypes.NewValue(keepType.ElementType.(tftypes.Object).AttributeTypes[name], nil)
	}
	set := map[string]tftypes.Value{
		"repositories": stringsValue([]string{"bulk/**"}),
		"keep": tftypes.NewValue(keepType, []tftypes.Value{tftypes.NewValue(keepType.ElementType, map[string]tftypes.Value{
			"tags": null("tags"), "tag_regex": null("tag_regex"), "newer_than": null("newer_than"), "images": null("images"),
			"newest": tftypes.NewValue(tftypes.Number, big.NewFloat(10)), "order_by": str("semver"),
		})}),
		"delete": tftypes.NewValue(deleteType, []tftypes.Value{tftypes.NewValue(deleteType.ElementType, map[string]tftypes.Value{
			"tag_regex": tftypes.NewValue(tftypes.String, nil), "older_than": tftypes.NewValue(tftypes.String, nil),
		})}),
	}
	if state {
		set["id"] = str("bulk/**")
		set["delete_referrers"] = tftypes.NewValue(tftypes.Bool, true)
		set["pending_deletions"] = decisionsValue(nil)
		set["deletions"] = decisionsValue(deletions)
		set["summary"] = summaryValue("reg.example.com", deletions, nextDeletionsID("", deletions))
		set["protected"] = protectedValue(nil)
		set["other_registry_images"] = number(0)
	}
	attributes := map[string]tftypes.Value{}
	for name, t := range typ.AttributeTypes {
		attributes[name] = tftypes.NewValue(t, nil)
		if v, ok := set[name]; ok {
			attributes[name] = v
		}
	}
	return tftypes.NewValue(typ, attributes)
}

// replicaDeletionsValue is replica_deletions with one replica's deletions.
func replicaDeletionsValue(deletions []decisionModel) tftypes.Value {
	return tftypes.NewValue(replicaDeletionsType, map[string]tftypes.Value{"replica.example.com": decisionsValue(deletions)})
}

// largeDeletions are n manifest deletions over 100 repositories.
func largeDeletions(n int) []decisionModel {
	out := make([]decisionModel, n)
	for i := range out {
		out[i] = decisionModel{
			Repository: fmt.Sprintf("bulk/app%03d", i%100), Digest: fmt.Sprintf("sha256:%064x", i), Action: "delete_manifest",
			Tags: []string{fmt.Sprintf("v1.%d.%d", i/1000, i%1000)}, Referrers: []string{}, Children: []string{},
			Reason: "not kept by keep[0] (newest 10 by semver); matches delete[0]",
		}
	}
	return out
}

// withConfig is what Terraform proposes: the configured values, and the
// prior state's for the computed attributes the configuration leaves null.
func withConfig(prior, config tftypes.Value) tftypes.Value {
	var p, c map[string]tftypes.Value
	_ = prior.As(&p)
	_ = config.As(&c)
	out := map[string]tftypes.Value{}
	for name, v := range c {
		out[name] = v
		if v.IsNull() {
			out[name] = p[name]
		}
	}
	return tftypes.NewValue(prior.Type(), out)
}

func mustDynamic(t *testing.T, typ tftypes.Type, v tftypes.Value) *tfprotov6.DynamicValue {
	t.Helper()
	dv, err := tfprotov6.NewDynamicValue(typ, v)
	if err != nil {
		t.Fatal(err)
	}
	return &dv
}

// jsonOf is a value as Terraform writes it in a state file.
func jsonOf(v tftypes.Value) any {
	if v.IsNull() {
		return nil
	}
	switch {
	case v.Type().Is(tftypes.String):
		var s string
		_ = v.As(&s)
		return s
	case v.Type().Is(tftypes.Bool):
		var b bool
		_ = v.As(&b)
		return b
	case v.Type().Is(tftypes.Number):
		var n big.Float
		_ = v.As(&n)
		f, _ := n.Float64()
		return f
	case v.Type().Is(tftypes.List{}), v.Type().Is(tftypes.Set{}):
		var elems []tftypes.Value
		_ = v.As(&elems)
		out := make([]any, len(elems))
		for i, e := range elems {
			out[i] = jsonOf(e)
		}
		return out
	default: // objects and maps
		var attributes map[string]tftypes.Value
		_ = v.As(&attributes)
		out := make(map[string]any, len(attributes))
		for name, a := range attributes {
			out[name] = jsonOf(a)
		}
		return out
	}
}

func diagnosticErrors(diags []*tfprotov6.Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			b.WriteString(d.Summary + ": " + d.Detail + "\n")
		}
	}
	return b.String()
}

// The server sets the large lists aside from the framework (server_lists.go)
// and must answer exactly what the framework alone answers: a plan that
// keeps pending deletions (-refresh=false), a plan from them, and a plan
// that keeps protected as it was. Checked against the bare framework server
// over the same requests.
func TestRetentionPolicy_setAsideListsChangeNoAnswer(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.Start(t)
	mustPush(t, reg, "bulk/app", "v1.0.0")
	servers := map[string]tfprotov6.ProviderServer{}
	for name, factory := range map[string]func() (tfprotov6.ProviderServer, error){
		"framework": providerserver.NewProtocol6WithError(New("test")()), "provider": NewServer("test"),
	} {
		s, err := factory()
		if err != nil {
			t.Fatal(err)
		}
		schemas, err := s.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
		if err != nil {
			t.Fatal(err)
		}
		config := dynamicValue(t, schemas.Provider.ValueType(), map[string]tftypes.Value{"url": str(reg.URL), "cache_dir": str("")})
		if resp, err := s.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{Config: config}); err != nil || len(resp.Diagnostics) > 0 {
			t.Fatalf("configure: %v %v", err, resp.Diagnostics)
		}
		servers[name] = s
	}
	schemas, _ := servers["framework"].GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	typ := schemas.ResourceSchemas[retentionPolicyType].ValueType().(tftypes.Object)
	config := policyValue(typ, nil, false)
	pending := largeDeletions(3)
	for i := range pending {
		pending[i].Repository = "bulk/app"
	}
	protected := protectedValue([]retention.Spared{{Repository: "bulk/app", Digest: "sha256:" + strings.Repeat("d", 64), Tags: []string{"v1"}, Reason: "deployed"}})
	applied := policyValue(typ, largeDeletions(2), true)
	for name, prior := range map[string]tftypes.Value{
		"deletions kept":         applied,
		"planned from pending":   replaced(applied, map[string]tftypes.Value{"pending_deletions": decisionsValue(pending), "protected": protected}),
		"protected kept":         replaced(applied, map[string]tftypes.Value{"protected": protected}),
		"replica deletions kept": replaced(applied, map[string]tftypes.Value{"replica_deletions": replicaDeletionsValue(largeDeletions(2))}),
		"configuration changed":  replaced(applied, map[string]tftypes.Value{"repositories": stringsValue([]string{"other/**"})}),
	} {
		answers := map[string]*tfprotov6.PlanResourceChangeResponse{}
		for server, s := range servers {
			resp, err := s.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
				TypeName: retentionPolicyType, PriorState: mustDynamic(t, typ, prior),
				ProposedNewState: mustDynamic(t, typ, withConfig(prior, config)), Config: mustDynamic(t, typ, config),
			})
			if err != nil || diagnosticErrors(resp.Diagnostics) != "" {
				t.Fatalf("%s, %s: %v %s", name, server, err, diagnosticErrors(resp.Diagnostics))
			}
			answers[server] = resp
		}
		want, _ := answers["framework"].PlannedState.Unmarshal(typ)
		got, _ := answers["provider"].PlannedState.Unmarshal(typ)
		if diffs, err := got.Diff(want); err != nil || len(diffs) > 0 {
			t.Errorf("%s: the plan differs from the framework's own: %v %v", name, diffs, err)
		}
	}
}

func replaced(object tftypes.Value, set map[string]tftypes.Value) tftypes.Value {
	var diags diag.Diagnostics
	return withAttributes(object, set, &diags)
}
