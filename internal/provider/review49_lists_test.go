package provider

// Review 49: the plan-speed change (e947497: the policy answers with its
// large lists set aside, the server puts them back) checked against the
// bare framework server over the same requests, as
// TestRetentionPolicy_setAsideListsChangeNoAnswer does, for what that test
// does not cover: a plan from the registry that plans deletions, the same
// plan repeated from the plan record after the registry changed (settle
// returning the recorded encoding), and a refresh (Read) that finds
// pending deletions. Held: the answers are equal.

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview49SetAsideAnswersEqualTheFrameworks(t *testing.T) {
	setAsideAgainstFramework49(t, false)
}

// The same with a replica (replica_deletions planned, then repeated).
func TestReview49SetAsideAnswersEqualTheFrameworksWithAReplica(t *testing.T) {
	setAsideAgainstFramework49(t, true)
}

func setAsideAgainstFramework49(t *testing.T, withReplica bool) {
	ctx := context.Background()
	reg := testregistry.Start(t)
	for i := range 12 {
		mustPush(t, reg, "bulk/app", fmt.Sprintf("v1.0.%d", i))
	}
	var replica *testregistry.Registry
	if withReplica {
		replica = testregistry.Start(t)
		for i := range 12 {
			if err := reg.CopyTo(replica, "bulk/app", fmt.Sprintf("v1.0.%d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
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
		config := dynamicValue(t, schemas.Provider.ValueType(), map[string]tftypes.Value{"url": str(reg.URL), "cache_dir": str(t.TempDir())})
		if resp, err := s.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{Config: config}); err != nil || len(resp.Diagnostics) > 0 {
			t.Fatalf("configure: %v %v", err, resp.Diagnostics)
		}
		servers[name] = s
	}
	schemas, _ := servers["framework"].GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	typ := schemas.ResourceSchemas[retentionPolicyType].ValueType().(tftypes.Object)
	config := policyValue(typ, nil, false)
	if withReplica {
		replicaType := typ.AttributeTypes["replica"].(tftypes.List)
		attrs := map[string]tftypes.Value{}
		for name, at := range replicaType.ElementType.(tftypes.Object).AttributeTypes {
			attrs[name] = tftypes.NewValue(at, nil)
		}
		attrs["url"] = str(replica.URL)
		config = replaced(config, map[string]tftypes.Value{"replica": tftypes.NewValue(replicaType, []tftypes.Value{tftypes.NewValue(replicaType.ElementType, attrs)})})
	}
	// A prior state over other repositories: the configuration changed,
	// so the plan is made from the registry (and recorded).
	// (largeDeletions(1): a summary over one repository; over two, the
	// plan record's key is not stable, see review49_record_test.go)
	applied := replaced(policyValue(typ, largeDeletions(1), true), map[string]tftypes.Value{"repositories": stringsValue([]string{"other/**"})})
	if withReplica {
		var c map[string]tftypes.Value
		_ = config.As(&c)
		applied = replaced(applied, map[string]tftypes.Value{"replica": c["replica"]})
	}
	plan := func(step string) {
		answers := map[string]*tfprotov6.PlanResourceChangeResponse{}
		for server, s := range servers {
			resp, err := s.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
				TypeName: retentionPolicyType, PriorState: mustDynamic(t, typ, applied),
				ProposedNewState: mustDynamic(t, typ, withConfig(applied, config)), Config: mustDynamic(t, typ, config),
			})
			if err != nil || diagnosticErrors(resp.Diagnostics) != "" {
				t.Fatalf("%s, %s: %v %s", step, server, err, diagnosticErrors(resp.Diagnostics))
			}
			answers[server] = resp
		}
		want, _ := answers["framework"].PlannedState.Unmarshal(typ)
		got, _ := answers["provider"].PlannedState.Unmarshal(typ)
		if diffs, err := got.Diff(want); err != nil || len(diffs) > 0 {
			t.Errorf("%s: the plan differs from the framework's own: %v %v", step, diffs, err)
		}
		var attrs map[string]tftypes.Value
		_ = got.As(&attrs)
		var deletions []tftypes.Value
		_ = attrs["deletions"].As(&deletions)
		t.Logf("%s: %d planned deletions, %d diagnostics", step, len(deletions), len(answers["provider"].Diagnostics))
		if withReplica {
			var rd map[string]tftypes.Value
			_ = attrs["replica_deletions"].As(&rd)
			for host, v := range rd {
				var l []tftypes.Value
				_ = v.As(&l)
				t.Logf("%s: replica %s: %d deletions", step, host, len(l))
			}
		}
		if len(deletions) == 0 {
			t.Errorf("%s: no planned deletions: the plan was not made from the registry", step)
		}
	}
	plan("first plan")
	mustPush(t, reg, "bulk/app", "v0.0.1") // one more to delete: the record is repeated
	plan("plan repeated from the record")
	answers := map[string]*tfprotov6.ReadResourceResponse{}
	for server, s := range servers {
		resp, err := s.ReadResource(ctx, &tfprotov6.ReadResourceRequest{TypeName: retentionPolicyType, CurrentState: mustDynamic(t, typ, applied)})
		if err != nil || diagnosticErrors(resp.Diagnostics) != "" {
			t.Fatalf("read, %s: %v %s", server, err, diagnosticErrors(resp.Diagnostics))
		}
		answers[server] = resp
	}
	want, _ := answers["framework"].NewState.Unmarshal(typ)
	got, _ := answers["provider"].NewState.Unmarshal(typ)
	if diffs, err := got.Diff(want); err != nil || len(diffs) > 0 {
		t.Errorf("read: the refreshed state differs from the framework's own: %v %v", diffs, err)
	}
}
