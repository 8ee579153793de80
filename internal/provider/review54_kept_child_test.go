package provider

// Regression test of review 54 (fixed: runChunk notes a dependent step it keeps as a skipped deletion, which the apply reports as a warning); failed before the fix.

// Review 54: registry_manifest_deletion reports an index child deleted
// (removed_children in state, apply successful, no diagnostic) that the
// apply kept because a tag was pushed onto it after the plan.
//
// The plan of deleting the index "multi" lists its two platform images in
// removed_children. Between the plan and the apply someone tags one of
// them ("amd64", a single-platform release). The apply keeps it, rightly
// (registry.Client.runChunk skips a dependent step that something kept
// uses: `if !w.started || !kept[digest]`), but silently: no note is taken
// for a skipped step (only judge's notes and verification's put-backs
// are), ExecuteManifestDeletion returns nil because the index itself was
// deleted (keptByRegistry is consulted only when nothing was deleted), and
// the resource records the plan as done: removed_children names the child
// that is still there, under its new tag. The resource's docs say "Apply
// deletes exactly that, after checking the registry again"; the design
// says "State and summaries say what happened: a skipped deletion is not a
// deletion". A user auditing what was deleted (or a pipeline keyed on
// removed_children, e.g. GC triggers or a replica) is told a kept image is
// gone; refresh never corrects it (it looks at the index's digest only).
// Causing code: internal/registry/execute.go runChunk (silent skip of a
// kept step), deletion.go ExecuteManifestDeletion (success whenever the
// manifest itself went), provider deletion lifecycle recording the plan.
//
// Reproduce: REVIEW54_UNSKIP=1 go test -count=1 -run TestReview54ManifestDeletionReportsAKeptChildDeleted ./internal/provider/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview54ManifestDeletionReportsAKeptChildDeleted(t *testing.T) {
	for name, start := range map[string]func(testing.TB, ...testregistry.Option) *testregistry.Registry{
		"distribution-v3": testregistry.Start, "distribution-2.8": testregistry.StartV28,
	} {
		t.Run(name, func(t *testing.T) { manifestDeletionReportsAKeptChild54(t, start(t)) })
	}
}

func manifestDeletionReportsAKeptChild54(t *testing.T, reg *testregistry.Registry) {
	ctx := context.Background()
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	index, children, err := reg.PushIndex("app", platforms, time.Time{}, "multi")
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
	r := &ManifestDeletionResource{client: client, now: time.Now}
	config, schema := resourceValue(ctx, r, map[string]tftypes.Value{"repository": str("app"), "tag": str("multi")})
	plan, _ := resourceValue(ctx, r, map[string]tftypes.Value{
		"repository": str("app"), "tag": str("multi"), "delete_referrers": tftypes.NewValue(tftypes.Bool, true),
		"allow_breaking_indexes": tftypes.NewValue(tftypes.Bool, false),
		"digest":                 tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
	})
	planned := fwresource.ModifyPlanResponse{Plan: tfsdk.Plan{Schema: schema.Schema, Raw: plan}}
	r.ModifyPlan(ctx, fwresource.ModifyPlanRequest{
		Config: tfsdk.Config{Schema: schema.Schema, Raw: config},
		Plan:   tfsdk.Plan{Schema: schema.Schema, Raw: plan},
		State:  tfsdk.State{Schema: schema.Schema, Raw: tftypes.NewValue(config.Type(), nil)},
	}, &planned)
	if planned.Diagnostics.HasError() {
		t.Fatalf("plan: %v", planned.Diagnostics)
	}
	var plannedChildren []string
	if d := planned.Plan.GetAttribute(ctx, path.Root("removed_children"), &plannedChildren); d.HasError() {
		t.Fatalf("plan: %v", d)
	}
	kept := children[0].String()
	if !slices.Contains(plannedChildren, kept) {
		t.Fatalf("planned removed_children %q; want both children of %s", plannedChildren, index)
	}
	// After the plan: the amd64 image is released on its own.
	if err := reg.Tag("app", children[0], "amd64"); err != nil {
		t.Fatal(err)
	}
	created := fwresource.CreateResponse{State: tfsdk.State{Schema: schema.Schema, Raw: tftypes.NewValue(config.Type(), nil)}}
	r.Create(ctx, fwresource.CreateRequest{Config: tfsdk.Config{Schema: schema.Schema, Raw: config}, Plan: planned.Plan}, &created)
	t.Logf("plan diagnostics: %v\napply diagnostics: %v", planned.Diagnostics, created.Diagnostics)
	if exists, err := reg.ManifestExists("app", children[0]); err != nil || !exists {
		t.Fatalf("the child tagged amd64 after the plan: exists = %v (%v); want it kept", exists, err)
	}
	if created.Diagnostics.HasError() {
		return // the apply said the registry changed: nothing claimed
	}
	var removed types.List
	if d := created.State.GetAttribute(ctx, path.Root("removed_children"), &removed); d.HasError() {
		t.Fatalf("state: %v", d)
	}
	var stateChildren []string
	removed.ElementsAs(ctx, &stateChildren, false)
	named := slices.ContainsFunc(created.Diagnostics.Warnings(), func(d diag.Diagnostic) bool {
		return strings.Contains(d.Detail(), kept)
	})
	if slices.Contains(stateChildren, kept) && !named {
		t.Errorf("the apply succeeded and its state lists %s in removed_children (%q), but it is still in the registry, tagged amd64 since the plan "+
			"(kept, rightly); no diagnostic says so: apply diagnostics %v", kept, stateChildren, created.Diagnostics)
	}
}
