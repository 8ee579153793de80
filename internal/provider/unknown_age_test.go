package provider

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// The guide's "keep what is recent, delete the rest" shape (keep
// { newer_than } and a catch-all delete) keeps the images whose age is
// unknown, whatever makes it so, and the plan names them: when in doubt,
// keep. They used to be deleted as "every tag not kept".
func TestRetentionPolicyKeepsUnknownAgeUnderNewerThan(t *testing.T) {
	ctx := context.Background()
	reg, r := policyOnImage(t) // app:pr-1, no created time
	// What reproducible builds write: the 1970 epoch.
	if _, err := reg.PushImage("app", time.Unix(0, 0), "epoch"); err != nil {
		t.Fatal(err)
	}
	broken, err := reg.PushImage("app", time.Now().Add(-90*24*time.Hour), "no-config")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.DeleteBlob("app", broken.ConfigDigest); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage("app", time.Now().Add(-90*24*time.Hour), "old"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage("app", time.Now().Add(-time.Hour), "new"); err != nil {
		t.Fatal(err)
	}
	req := newPolicyPlan(ctx, r, "app", "") // delete {}: every tag not kept
	keep := map[string]tftypes.Value{"newer_than": str("720h")}
	req.Config.Raw, req.Plan.Raw = withKeep(t, req.Config.Raw, keep), withKeep(t, req.Plan.Raw, keep)
	resp := modifyPlanResponse(ctx, r, req)
	expectWarning(t, resp.Diagnostics, "Kept: age unknown")

	var diags diag.Diagnostics
	var deleted []string
	for _, d := range decisionsOf(rawAttribute(resp.Plan.Raw, "deletions"), &diags) {
		deleted = append(deleted, d.Tags...)
	}
	if diags.HasError() {
		t.Fatal(diags)
	}
	if want := []string{"old"}; !slices.Equal(deleted, want) {
		t.Errorf("the plan deletes %q, want %q", deleted, want)
	}
	for _, w := range resp.Diagnostics.Warnings() {
		if w.Summary() == "Kept: age unknown" && !strings.Contains(w.Detail(), "keeps app:epoch, app:no-config, app:pr-1, which") {
			t.Errorf("the warning should name app:epoch, app:no-config and app:pr-1: %s", w.Detail())
		}
	}
}
