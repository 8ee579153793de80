package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// The plan record (plan_record.go) is keyed by a hash of the msgpack
// encoding of the configuration and the prior state (planRecords.path,
// tfprotov6.NewDynamicValue). terraform-plugin-go encodes a map in Go's
// map iteration order (tftypes marshalMsgPackMap ranges over the map), so
// a prior state holding a map of two or more entries hashes differently
// from one pass to the next: summary.repositories after an apply over two
// repositories, replica_deletions / replica_summary with two replicas.
// Terraform's planning pass during apply (another provider process, the
// same configuration and state) then does not find the plan's record and
// plans from the registry again: a registry changed since the plan
// surfaces as Terraform's "Provider produced inconsistent final plan",
// which the design rules out ("A registry changed behind a saved plan
// never surfaces as Terraform's inconsistent final plan"). Here: a prior
// state whose summary names two repositories, a plan recorded, one more
// image to delete pushed, then the same plan request eight times: each
// must repeat the record (2 deletions, with the warning); about half
// plan 3 instead.
// Regression test of review 49 (fixed).
func TestReview49PlanRecordKeyUnstableWithAMapInTheState(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.Start(t)
	for i := range 12 {
		mustPush(t, reg, "bulk/app", fmt.Sprintf("v1.0.%d", i))
	}
	s, err := NewServer("test")()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := s.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	pc := dynamicValue(t, schemas.Provider.ValueType(), map[string]tftypes.Value{"url": str(reg.URL), "cache_dir": str(t.TempDir())})
	if resp, err := s.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{Config: pc}); err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("configure: %v %v", err, resp.Diagnostics)
	}
	typ := schemas.ResourceSchemas[retentionPolicyType].ValueType().(tftypes.Object)
	config := policyValue(typ, nil, false)
	// The last apply deleted in two repositories (bulk/app000, bulk/app001):
	// its summary maps both. The configuration changed since, so the plan
	// is made from the registry and recorded.
	prior := replaced(policyValue(typ, largeDeletions(2), true), map[string]tftypes.Value{"repositories": stringsValue([]string{"other/**"})})
	plan := func() (int, bool) {
		resp, err := s.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
			TypeName: retentionPolicyType, PriorState: mustDynamic(t, typ, prior),
			ProposedNewState: mustDynamic(t, typ, withConfig(prior, config)), Config: mustDynamic(t, typ, config),
		})
		if err != nil || diagnosticErrors(resp.Diagnostics) != "" {
			t.Fatalf("plan: %v %s", err, diagnosticErrors(resp.Diagnostics))
		}
		v, _ := resp.PlannedState.Unmarshal(typ)
		var attrs map[string]tftypes.Value
		_ = v.As(&attrs)
		var deletions []tftypes.Value
		_ = attrs["deletions"].As(&deletions)
		repeated := false
		for _, d := range resp.Diagnostics {
			repeated = repeated || strings.Contains(d.Summary, "changed since this was first planned")
		}
		return len(deletions), repeated
	}
	if n, _ := plan(); n != 2 {
		t.Fatalf("first plan: %d deletions; want 2", n)
	}
	mustPush(t, reg, "bulk/app", "v0.0.1") // the registry changes between plan and apply
	missed := 0
	for range 8 {
		if n, repeated := plan(); n != 2 || !repeated {
			missed++
		}
	}
	if missed > 0 {
		t.Errorf("%d of 8 planning passes with the same configuration and prior state did not repeat the recorded plan (planned from the registry: 3 deletions)", missed)
	}
}
