package provider

import (
	"context"
	"testing"
	"time"

	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// newPolicyPlan is the request Terraform sends to plan a new retention
// policy "repositories = [repo], delete { tag_regex = pattern }".
func newPolicyPlan(ctx context.Context, r *RetentionPolicyResource, repo, pattern string) fwresource.ModifyPlanRequest {
	var schema fwresource.SchemaResponse
	r.Schema(ctx, fwresource.SchemaRequest{}, &schema)
	objectType := schema.Schema.Type().TerraformType(ctx).(tftypes.Object)
	deleteType := objectType.AttributeTypes["delete"].(tftypes.List)
	set := map[string]tftypes.Value{
		"repositories": tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, []tftypes.Value{str(repo)}),
		"keep":         tftypes.NewValue(objectType.AttributeTypes["keep"], []tftypes.Value{}),
		"delete": tftypes.NewValue(deleteType, []tftypes.Value{tftypes.NewValue(deleteType.ElementType, map[string]tftypes.Value{
			"tag_regex":  str(pattern),
			"older_than": tftypes.NewValue(tftypes.String, nil),
		})}),
	}
	config, _ := resourceValue(ctx, r, set)
	set["delete_referrers"] = tftypes.NewValue(tftypes.Bool, true) // the default, as Terraform plans it
	plan, _ := resourceValue(ctx, r, set)
	return fwresource.ModifyPlanRequest{
		Config: tfsdk.Config{Schema: schema.Schema, Raw: config},
		Plan:   tfsdk.Plan{Schema: schema.Schema, Raw: plan},
		State:  tfsdk.State{Schema: schema.Schema, Raw: tftypes.NewValue(objectType, nil)},
	}
}

func modifyPlan(ctx context.Context, t *testing.T, r *RetentionPolicyResource, req fwresource.ModifyPlanRequest) fwresource.ModifyPlanResponse {
	t.Helper()
	resp := fwresource.ModifyPlanResponse{Plan: req.Plan}
	r.ModifyPlan(ctx, req, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatal(resp.Diagnostics)
	}
	return resp
}

// recordingRegistry is a registry holding app:pr-1 (img), and a client of
// it that records plans in a cache_dir of the test's own.
func recordingRegistry(t *testing.T) (*testregistry.Registry, testregistry.Image, *registry.Client) {
	t.Helper()
	reg := testregistry.Start(t)
	img, err := reg.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	client, err := registry.New(context.Background(), registry.Config{URL: reg.URL, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return reg, img, client
}

func warned(resp fwresource.ModifyPlanResponse, summary string) bool {
	for _, d := range resp.Diagnostics.Warnings() {
		if d.Summary() == summary {
			return true
		}
	}
	return false
}

// The plan Terraform makes again during apply repeats the reviewed plan of
// a new policy, with a warning, when the registry changed in between; once
// applied, the record is gone and plans come from the registry again.
func TestPlanFromTheRegistryIsRepeatedUntilApplied(t *testing.T) {
	ctx := context.Background()
	reg, img, client := recordingRegistry(t)
	r := &RetentionPolicyResource{client: client, now: time.Now}
	req := newPolicyPlan(ctx, r, "app", "^pr-")
	reviewed := modifyPlan(ctx, t, r, req)
	if warned(reviewed, "The registry changed since this was first planned") {
		t.Fatal("the first plan warned")
	}
	if err := reg.Tag("app", img.Digest, "hotfix"); err != nil { // behind the saved plan
		t.Fatal(err)
	}
	again := modifyPlan(ctx, t, r, req)
	if !again.Plan.Raw.Equal(reviewed.Plan.Raw) || !warned(again, "The registry changed since this was first planned") {
		t.Fatalf("the second pass did not repeat the reviewed plan with a warning: %v", again.Diagnostics)
	}
	recordsOf(client, time.Now).forget(retentionPolicyType, req.Config.Raw, req.State.Raw)
	fresh := modifyPlan(ctx, t, r, req)
	if fresh.Plan.Raw.Equal(reviewed.Plan.Raw) || warned(fresh, "The registry changed since this was first planned") {
		t.Fatal("after the apply forgot the record, the plan still repeats it")
	}
}

// A record ages by the provider's clock: a day later by that clock, the
// plan comes from the registry again, without the warning.
func TestPlanRecordAgesByTheProviderClock(t *testing.T) {
	ctx := context.Background()
	reg, img, client := recordingRegistry(t)
	now := time.Now()
	r := &RetentionPolicyResource{client: client, now: func() time.Time { return now }}
	req := newPolicyPlan(ctx, r, "app", "^pr-")
	reviewed := modifyPlan(ctx, t, r, req)
	if err := reg.Tag("app", img.Digest, "pr-2"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(planRecordTTL + time.Minute)
	later := modifyPlan(ctx, t, r, req)
	if later.Plan.Raw.Equal(reviewed.Plan.Raw) || warned(later, "The registry changed since this was first planned") {
		t.Fatal("a record older than planRecordTTL by the provider's clock was repeated")
	}
}
