package provider

// Regression test of review 57 (fixed: the action's invoke says what its own plan left: a moved tag is a warning, one the configuration names in tags an error naming it (leftMoved)); failed before the fix.
//
// Review 57: the registry_restore action, asked to put back a tag
// (tags = ["latest"]) that its plan showed gone, succeeds without a word
// when the tag was pushed onto another image between the plan and the
// invoke: the image comes back without the tag, and nothing says so.
//
// What is wrong: RestoreAction.Invoke (action_restore.go) plans again
// (a.plan) and passes that plan to ExecuteRestore, but never says what the
// new plan leaves: a tag pushed since the plan the user reviewed is now a
// moved tag (RestoreImage.MovedTags), not among the tags ExecuteRestore
// writes or checks, so no error names it (as the resource's apply does:
// "restored everything else the plan listed, but: tag ... was pushed onto
// ... since the plan"), and the warning its plan would give
// (warnRestore: "Tags pushed since the deletion are left where they
// are") is given only by ModifyPlan, which ran before the push. The Undo
// guide says the action "leaves a moved tag where it is (its plan warns,
// naming the tag and the image it is on)": here its plan had nothing to
// warn of.
//
// User-visible consequence: `terraform apply -invoke=action.registry_restore.latest`
// for tags = ["latest"] reports success (progress "restored sha256:... in
// app", no warning, no error) while latest is not on the restored image:
// a deploy pinned to what was restored under latest pulls another image,
// and the user was told the restore of latest succeeded.
//
// Reproduce: go test -count=1 -run TestReview57RestoreActionSilentAboutATagPushedSinceItsPlan ./internal/provider/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview57RestoreActionSilentAboutATagPushedSinceItsPlan(t *testing.T) {
	for name, start := range map[string]func(testing.TB, ...testregistry.Option) *testregistry.Registry{
		"distribution-v3": testregistry.Start, "distribution-2.8": testregistry.StartV28,
	} {
		t.Run(name, func(t *testing.T) { restoreActionSilent57(t, start(t)) })
	}
}

func restoreActionSilent57(t *testing.T, reg *testregistry.Registry) {
	ctx := context.Background()
	deleted, err := reg.PushImage("app", time.Time{}, "latest")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage("app", time.Time{}, "stable"); err != nil {
		t.Fatal(err)
	}
	client, err := registry.New(ctx, registry.Config{URL: reg.URL, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// An apply deletes the image latest was on (journaled in the registry).
	planned, err := client.PlanManifestDeletion(ctx, "app", "latest", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.ExecuteManifestDeletion(ctx, planned); err != nil {
		t.Fatal(err)
	}

	a := &RestoreAction{client: client}
	var schemaResp action.SchemaResponse
	a.Schema(ctx, action.SchemaRequest{}, &schemaResp)
	typ := schemaResp.Schema.Type().TerraformType(ctx).(tftypes.Object)
	values := map[string]tftypes.Value{}
	for name, attrType := range typ.AttributeTypes {
		values[name] = tftypes.NewValue(attrType, nil)
	}
	values["repository"] = tftypes.NewValue(tftypes.String, "app")
	values["tags"] = tftypes.NewValue(tftypes.Set{ElementType: tftypes.String}, []tftypes.Value{tftypes.NewValue(tftypes.String, "latest")})
	config := tfsdk.Config{Schema: schemaResp.Schema, Raw: tftypes.NewValue(typ, values)}

	var plan action.ModifyPlanResponse
	a.ModifyPlan(ctx, action.ModifyPlanRequest{Config: config}, &plan)
	if plan.Diagnostics.HasError() {
		t.Fatalf("plan: %v", plan.Diagnostics)
	}
	for _, d := range plan.Diagnostics {
		if strings.Contains(d.Detail(), "app:latest") {
			t.Fatalf("the plan already speaks of app:latest (gone, it is to be put back): %v", plan.Diagnostics)
		}
	}

	// Between the plan the user reviewed and the invoke, a release is
	// pushed as latest.
	release, err := reg.PushImage("app", time.Time{}, "latest")
	if err != nil {
		t.Fatal(err)
	}

	var progress []string
	invoked := action.InvokeResponse{SendProgress: func(e action.InvokeProgressEvent) { progress = append(progress, e.Message) }}
	a.Invoke(ctx, action.InvokeRequest{Config: config}, &invoked)
	t.Logf("invoke: %v\nprogress %q", invoked.Diagnostics, progress)
	if now, err := reg.Resolve("app", "latest"); err != nil || now != release.Digest {
		t.Fatalf("latest resolves to %v (%v); the release pushed since the plan was %s", now, err, release.Digest)
	}
	for _, d := range invoked.Diagnostics {
		if strings.Contains(d.Detail(), "app:latest") || strings.Contains(d.Detail(), "latest") && strings.Contains(d.Detail(), release.Digest.String()) {
			return // said
		}
	}
	t.Errorf("the action was asked to put back app:latest, which its plan showed gone; a release was pushed as latest before the invoke, "+
		"which restored %s without it and said nothing (diagnostics %v, progress %q)", deleted.Digest, invoked.Diagnostics, progress)
}
