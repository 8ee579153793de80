package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

const (
	restoredDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	movedDigest    = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	releaseDigest  = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
)

// A tag two restored images had goes back to the newer deletion only
// (review 55): the plan's warning names the tag and both images.
func TestWarnRestoreNamesTheImageATagDoesNotGoBackTo(t *testing.T) {
	planned := registry.Restore{Images: []registry.RestoreImage{
		{Repository: "app", Digest: restoredDigest, TagsToNewer: map[string]string{"latest": releaseDigest}},
		{Repository: "app", Digest: releaseDigest, Tags: []string{"latest"}},
	}}
	var diags diag.Diagnostics
	warnRestore(planned, "", &diags)
	for _, d := range diags.Warnings() {
		if strings.Contains(d.Detail(), "app:latest goes back to "+releaseDigest+", not to "+restoredDigest) {
			return
		}
	}
	t.Errorf("no warning names app:latest, going back to %s and not to %s: %v", releaseDigest, restoredDigest, diags)
}

// A tag left on another image is named, with how to move it back, which
// the resource and the action say differently.
func TestWarnRestoreSaysHowToMoveATagBack(t *testing.T) {
	planned := registry.Restore{Images: []registry.RestoreImage{{Repository: "app", Digest: restoredDigest,
		MovedTags: []string{"latest"}, MovedTo: map[string]string{"latest": movedDigest}}}}
	var diags diag.Diagnostics
	warnRestore(planned, actionMovesBack, &diags)
	for _, d := range diags.Warnings() {
		if strings.Contains(d.Detail(), "app:latest (on "+movedDigest+")") && strings.Contains(d.Detail(), actionMovesBack) {
			return
		}
	}
	t.Errorf("no warning names app:latest on %s and how to move it back: %v", movedDigest, diags)
}

// The action refuses overwrite_moved_tags = true (review 56): its invoke
// cannot tell which plan it applies. false and null are accepted.
func TestRestoreActionRefusesToMoveTagsBack(t *testing.T) {
	ctx := context.Background()
	a := &RestoreAction{}
	var schemaResp action.SchemaResponse
	a.Schema(ctx, action.SchemaRequest{}, &schemaResp)
	typ := schemaResp.Schema.Type().TerraformType(ctx).(tftypes.Object)
	for _, overwrite := range []*bool{new(true), new(false), nil} {
		values := map[string]tftypes.Value{}
		for name, attrType := range typ.AttributeTypes {
			values[name] = tftypes.NewValue(attrType, nil)
		}
		values["digests"] = tftypes.NewValue(tftypes.Set{ElementType: tftypes.String}, []tftypes.Value{tftypes.NewValue(tftypes.String, restoredDigest)})
		if overwrite != nil {
			values["overwrite_moved_tags"] = tftypes.NewValue(tftypes.Bool, *overwrite)
		}
		config := tfsdk.Config{Schema: schemaResp.Schema, Raw: tftypes.NewValue(typ, values)}
		var resp action.ValidateConfigResponse
		a.ValidateConfig(ctx, action.ValidateConfigRequest{Config: config}, &resp)
		refused := resp.Diagnostics.HasError()
		value := "null"
		if overwrite != nil {
			value = fmt.Sprint(*overwrite)
		}
		if want := overwrite != nil && *overwrite; refused != want {
			t.Errorf("overwrite_moved_tags = %s: refused %v, want %v: %v", value, refused, want, resp.Diagnostics)
		}
		if refused && !strings.Contains(resp.Diagnostics.Errors()[0].Detail(), "resource registry_restore") {
			t.Errorf("the error does not point to the resource: %v", resp.Diagnostics)
		}
	}
}
