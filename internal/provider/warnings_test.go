package provider

import (
	"context"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Warnings are behaviour, and terraform-plugin-testing cannot see them:
// these tests call the resources' methods directly, as Terraform would.

// resourceValue is a value of r's schema with the given attributes set and
// every other one null.
func resourceValue(ctx context.Context, r fwresource.Resource, set map[string]tftypes.Value) (tftypes.Value, fwresource.SchemaResponse) {
	var schema fwresource.SchemaResponse
	r.Schema(ctx, fwresource.SchemaRequest{}, &schema)
	objectType := schema.Schema.Type().TerraformType(ctx).(tftypes.Object)
	attributes := map[string]tftypes.Value{}
	for name, typ := range objectType.AttributeTypes {
		attributes[name] = tftypes.NewValue(typ, nil)
	}
	for name, v := range set {
		attributes[name] = v
	}
	return tftypes.NewValue(objectType, attributes), schema
}

func str(s string) tftypes.Value { return tftypes.NewValue(tftypes.String, s) }

func strSet(values ...string) tftypes.Value {
	elems := make([]tftypes.Value, len(values))
	for i, v := range values {
		elems[i] = str(v)
	}
	return tftypes.NewValue(tftypes.Set{ElementType: tftypes.String}, elems)
}

// policyOnImage is a retention policy resource on a registry that holds
// app:pr-1.
func policyOnImage(t *testing.T) (*testregistry.Registry, *RetentionPolicyResource) {
	t.Helper()
	reg := testregistry.Start(t)
	if _, err := reg.PushImage("app", time.Time{}, "pr-1"); err != nil {
		t.Fatal(err)
	}
	return reg, &RetentionPolicyResource{client: testClient(t, reg), now: time.Now}
}

func testClient(t *testing.T, reg *testregistry.Registry) *registry.Client {
	t.Helper()
	client, err := registry.New(context.Background(), registry.Config{URL: reg.URL, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func expectWarning(t *testing.T, diags diag.Diagnostics, summary string) {
	t.Helper()
	if diags.HasError() {
		t.Fatalf("unexpected error: %v", diags)
	}
	for _, d := range diags.Warnings() {
		if d.Summary() == summary {
			return
		}
	}
	t.Fatalf("no %q warning in %v", summary, diags)
}

func TestWarnsDestroyingOnlyForgets(t *testing.T) {
	ctx := context.Background()
	for _, r := range []fwresource.ResourceWithModifyPlan{&RetentionPolicyResource{}, &ManifestDeletionResource{}, &TagDeletionResource{}} {
		state, schema := resourceValue(ctx, r, nil)
		resp := fwresource.ModifyPlanResponse{}
		r.ModifyPlan(ctx, fwresource.ModifyPlanRequest{
			Plan:  tfsdk.Plan{Schema: schema.Schema, Raw: tftypes.NewValue(state.Type(), nil)},
			State: tfsdk.State{Schema: schema.Schema, Raw: state},
		}, &resp)
		expectWarning(t, resp.Diagnostics, "Destroying only forgets")
	}
}

func TestRetentionPolicyWarnsNoMatchingRepository(t *testing.T) {
	ctx := context.Background()
	_, r := policyOnImage(t)
	resp := modifyPlanResponse(ctx, r, newPolicyPlan(ctx, r, "nothing/*", "^pr-"))
	expectWarning(t, resp.Diagnostics, "No matching repository")
}

func TestRetentionPolicyWarnsOrderByWithoutNewest(t *testing.T) {
	ctx := context.Background()
	r := &RetentionPolicyResource{}
	req := newPolicyPlan(ctx, r, "app", "^pr-")
	config := withKeep(t, req.Config.Raw, map[string]tftypes.Value{"tag_regex": str("^v"), "order_by": str("semver")})
	resp := fwresource.ValidateConfigResponse{}
	r.ValidateConfig(ctx, fwresource.ValidateConfigRequest{Config: tfsdk.Config{Schema: req.Config.Schema, Raw: config}}, &resp)
	expectWarning(t, resp.Diagnostics, "order_by without newest")
}

// withKeep is a policy value with one keep block setting the given
// attributes, every other one null.
func withKeep(t *testing.T, policy tftypes.Value, set map[string]tftypes.Value) tftypes.Value {
	t.Helper()
	var attributes map[string]tftypes.Value
	if err := policy.As(&attributes); err != nil {
		t.Fatal(err)
	}
	keepType := attributes["keep"].Type().(tftypes.List)
	block := map[string]tftypes.Value{}
	for name, typ := range keepType.ElementType.(tftypes.Object).AttributeTypes {
		block[name] = tftypes.NewValue(typ, nil)
	}
	maps.Copy(block, set)
	attributes["keep"] = tftypes.NewValue(keepType, []tftypes.Value{tftypes.NewValue(keepType.ElementType, block)})
	return tftypes.NewValue(policy.Type(), attributes)
}

// A deployed digest the registry does not hold keeps nothing, and the plan
// says so rather than failing: deployment lists go stale.
func TestRetentionPolicyWarnsDeployedImageNotFound(t *testing.T) {
	ctx := context.Background()
	reg, r := policyOnImage(t)
	req := newPolicyPlan(ctx, r, "app", "^pr-")
	gone := reg.Host + "/app@sha256:" + strings.Repeat("0", 64)
	keep := map[string]tftypes.Value{"images": tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, []tftypes.Value{str(gone), str(reg.Host + "/app:pr-1")})}
	req.Config.Raw, req.Plan.Raw = withKeep(t, req.Config.Raw, keep), withKeep(t, req.Plan.Raw, keep)
	resp := modifyPlanResponse(ctx, r, req)
	expectWarning(t, resp.Diagnostics, "Deployed image not found")
	if detail := resp.Diagnostics.Warnings()[0].Detail(); !strings.Contains(detail, gone) || strings.Contains(detail, "pr-1") {
		t.Fatalf("the warning should name %s alone: %s", gone, detail)
	}
	var deletions types.List
	resp.Diagnostics.Append(resp.Plan.GetAttribute(ctx, path.Root("deletions"), &deletions)...)
	if len(deletions.Elements()) != 0 {
		t.Fatalf("the deployed pr-1 is planned for deletion: %v", deletions)
	}
}

// A tag moved between plan and apply is skipped, and the apply says so.
func TestRetentionPolicyWarnsSkippedDeletion(t *testing.T) {
	ctx := context.Background()
	reg, r := policyOnImage(t)
	req := newPolicyPlan(ctx, r, "app", "^pr-")
	planned := modifyPlan(ctx, t, r, req)
	moved, err := reg.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	resp := fwresource.CreateResponse{State: tfsdk.State{Schema: req.State.Schema, Raw: req.State.Raw}}
	r.Create(ctx, fwresource.CreateRequest{Config: req.Config, Plan: planned.Plan}, &resp)
	expectWarning(t, resp.Diagnostics, "Skipped a planned deletion")
	if found, err := reg.ManifestExists("app", moved.Digest); err != nil || !found {
		t.Fatalf("the image pr-1 moved to was deleted (err %v)", err)
	}
	// The state keeps the plan (Terraform requires it) and says in
	// applied what was done: nothing, so no new deletions_id.
	applied := appliedOf(t, resp.State.Raw)
	if applied.manifests != 0 || len(applied.skipped) != 1 || applied.deletionsID != "" {
		t.Errorf("applied %+v; want no manifest, one skipped item and no deletions_id", applied)
	}
}

// An apply that deletes says so in applied, with the plan's deletions_id.
func TestRetentionPolicyAppliedCountsWhatTheApplyDeleted(t *testing.T) {
	ctx := context.Background()
	_, r := policyOnImage(t)
	req := newPolicyPlan(ctx, r, "app", "^pr-")
	planned := modifyPlan(ctx, t, r, req)
	if applied := rawAttribute(planned.Plan.Raw, "applied"); applied.IsKnown() {
		t.Errorf("applied in a plan with deletions is %v; want unknown", applied)
	}
	resp := fwresource.CreateResponse{State: tfsdk.State{Schema: req.State.Schema, Raw: req.State.Raw}}
	r.Create(ctx, fwresource.CreateRequest{Config: req.Config, Plan: planned.Plan}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatal(resp.Diagnostics)
	}
	applied := appliedOf(t, resp.State.Raw)
	if want := deletionsIDOf(planned.Plan.Raw); applied.manifests != 1 || len(applied.skipped) != 0 || applied.deletionsID != want || want == "" {
		t.Errorf("applied %+v; want 1 manifest, nothing skipped, deletions_id %q", applied, want)
	}
}

type appliedModel struct {
	deletionsID       string
	manifests         int64
	skipped, restored []string
}

func appliedOf(t *testing.T, state tftypes.Value) appliedModel {
	t.Helper()
	v := rawAttribute(state, "applied")
	if !v.IsKnown() || v.IsNull() {
		t.Fatalf("applied is %v after apply; want known", v)
	}
	var m appliedModel
	var n big.Float
	if err := rawAttribute(v, "deletions_id").As(&m.deletionsID); err != nil {
		t.Fatal(err)
	}
	if err := rawAttribute(v, "manifests").As(&n); err != nil {
		t.Fatal(err)
	}
	m.manifests, _ = n.Int64()
	for name, to := range map[string]*[]string{"skipped": &m.skipped, "restored": &m.restored} {
		var elems []tftypes.Value
		if err := rawAttribute(v, name).As(&elems); err != nil {
			t.Fatal(err)
		}
		for _, e := range elems {
			var s string
			_ = e.As(&s)
			*to = append(*to, s)
		}
	}
	return m
}

func TestManifestDeletionWarnsNothingToDeleteAndDeletedManifestIsBack(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.Start(t)
	if _, err := reg.PushImage("app", time.Time{}, "other"); err != nil { // the repository exists, v1 does not
		t.Fatal(err)
	}
	r := &ManifestDeletionResource{client: testClient(t, reg)}
	config, schema := resourceValue(ctx, r, map[string]tftypes.Value{"repository": str("app"), "tag": str("v1")})
	plan, _ := resourceValue(ctx, r, map[string]tftypes.Value{
		"repository": str("app"), "tag": str("v1"), "delete_referrers": tftypes.NewValue(tftypes.Bool, true),
		"allow_breaking_indexes": tftypes.NewValue(tftypes.Bool, false),
		"digest":                 tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
	})
	resp := fwresource.ModifyPlanResponse{Plan: tfsdk.Plan{Schema: schema.Schema, Raw: plan}}
	r.ModifyPlan(ctx, fwresource.ModifyPlanRequest{
		Config: tfsdk.Config{Schema: schema.Schema, Raw: config},
		Plan:   tfsdk.Plan{Schema: schema.Schema, Raw: plan},
		State:  tfsdk.State{Schema: schema.Schema, Raw: tftypes.NewValue(config.Type(), nil)},
	}, &resp)
	expectWarning(t, resp.Diagnostics, "Nothing to delete")

	if _, err := reg.PushImage("app", time.Time{}, "v1"); err != nil {
		t.Fatal(err)
	}
	state := tfsdk.State{Schema: schema.Schema, Raw: resp.Plan.Raw}
	read := fwresource.ReadResponse{State: state}
	r.Read(ctx, fwresource.ReadRequest{State: state}, &read)
	expectWarning(t, read.Diagnostics, "Deleted manifest is back")
}

func TestTagDeletionWarnsDeletedTagsAreBack(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.Start(t)
	if _, err := reg.PushImage("app", time.Time{}, "v1"); err != nil {
		t.Fatal(err)
	}
	r := &TagDeletionResource{client: testClient(t, reg)}
	value, schema := resourceValue(ctx, r, map[string]tftypes.Value{
		"repository": str("app"), "tags": strSet("v1"), "delete_untagged_manifests": tftypes.NewValue(tftypes.Bool, false),
	})
	state := tfsdk.State{Schema: schema.Schema, Raw: value}
	read := fwresource.ReadResponse{State: state}
	r.Read(ctx, fwresource.ReadRequest{State: state}, &read)
	expectWarning(t, read.Diagnostics, "Deleted tags are back")
}

func modifyPlanResponse(ctx context.Context, r fwresource.ResourceWithModifyPlan, req fwresource.ModifyPlanRequest) fwresource.ModifyPlanResponse {
	resp := fwresource.ModifyPlanResponse{Plan: req.Plan}
	r.ModifyPlan(ctx, req, &resp)
	return resp
}

// An image whose config blob is gone has an unknown age; when the rules
// read ages, the plan names it rather than guessing.
func TestRetentionPolicyWarnsIncompleteImage(t *testing.T) {
	ctx := context.Background()
	reg, r := policyOnImage(t)
	broken, err := reg.PushImage("app", time.Time{}, "no-config")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.DeleteBlob("app", broken.ConfigDigest); err != nil {
		t.Fatal(err)
	}
	req := newPolicyPlan(ctx, r, "app", "^pr-")
	keep := map[string]tftypes.Value{"newest": tftypes.NewValue(tftypes.Number, 1)} // by created: reads every image's age
	req.Config.Raw, req.Plan.Raw = withKeep(t, req.Config.Raw, keep), withKeep(t, req.Plan.Raw, keep)
	resp := modifyPlanResponse(ctx, r, req)
	expectWarning(t, resp.Diagnostics, "Incomplete image")
	if detail := resp.Diagnostics.Warnings()[0].Detail(); !strings.Contains(detail, "app:no-config (config blob "+broken.ConfigDigest.String()+" is missing)") {
		t.Fatalf("the warning should name app:no-config and its missing config: %s", detail)
	}
}

// A tag left pointing at a deleted manifest keeps nothing and no policy
// deletion removes it: the plan names it and says how to clean it up.
func TestRetentionPolicyWarnsTagWithoutManifest(t *testing.T) {
	ctx := context.Background()
	reg, r := policyOnImage(t)
	if err := reg.DanglingTag("app", "rollback"); err != nil {
		t.Fatal(err)
	}
	resp := modifyPlanResponse(ctx, r, newPolicyPlan(ctx, r, "app", "^pr-"))
	expectWarning(t, resp.Diagnostics, "Tag without a manifest")
	if detail := resp.Diagnostics.Warnings()[0].Detail(); !strings.Contains(detail, "lists app:rollback,") {
		t.Fatalf("the warning should name app:rollback: %s", detail)
	}
}

// Credentials that may delete but not push make repairs impossible: the
// plan warns, naming the repository.
func TestWarnUnrestorableNamesTheRepository(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "app", "v1")
	target, err := url.Parse(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"denied"}]}`))
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	client, err := registry.New(context.Background(), registry.Config{URL: proxy.URL, CacheDir: t.TempDir(), RetryMaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	var diags diag.Diagnostics
	warnUnrestorable(context.Background(), client, "", []string{"app"}, &diags)
	if len(diags) != 1 || diags[0].Summary() != "Deletions cannot be repaired" || !strings.Contains(diags[0].Detail(), "app (") {
		t.Fatalf("diagnostics %v; want one warning naming app", diags)
	}
	direct, err := registry.New(context.Background(), registry.Config{URL: reg.URL, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	diags = nil
	if warnUnrestorable(context.Background(), direct, "", []string{"app"}, &diags); len(diags) != 0 {
		t.Fatalf("a registry that takes pushes: %v", diags)
	}
}

// A replica whose credentials cannot push gets the warning too, naming
// the replica: its apply cannot put back what the registry API's window
// takes there either (review 61 saw no warning for a replica).
func TestRetentionPolicyWarnsReplicaUnrestorable(t *testing.T) {
	ctx := context.Background()
	reg, r := policyOnImage(t)
	replica := testregistry.Start(t)
	if err := reg.CopyTo(replica, "app", "pr-1"); err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(replica.URL)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost && strings.Contains(req.URL.Path, "/blobs/uploads/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"denied"}]}`))
			return
		}
		forward.ServeHTTP(w, req)
	}))
	t.Cleanup(proxy.Close)
	req := newPolicyPlan(ctx, r, "app", "^pr-")
	req.Config.Raw, req.Plan.Raw = withReplica(t, req.Config.Raw, proxy.URL), withReplica(t, req.Plan.Raw, proxy.URL)
	resp := modifyPlanResponse(ctx, r, req)
	expectWarning(t, resp.Diagnostics, "Deletions cannot be repaired")
	for _, d := range resp.Diagnostics.Warnings() {
		if d.Summary() == "Deletions cannot be repaired" && !strings.HasPrefix(d.Detail(), "On the replica "+strings.TrimPrefix(proxy.URL, "http://")) {
			t.Errorf("the warning does not name the replica (the primary takes pushes): %s", d.Detail())
		}
	}
}

// withReplica is a policy value with one replica block at url.
func withReplica(t *testing.T, policy tftypes.Value, url string) tftypes.Value {
	t.Helper()
	var attributes map[string]tftypes.Value
	if err := policy.As(&attributes); err != nil {
		t.Fatal(err)
	}
	listType := attributes["replica"].Type().(tftypes.List)
	block := map[string]tftypes.Value{}
	for name, typ := range listType.ElementType.(tftypes.Object).AttributeTypes {
		block[name] = tftypes.NewValue(typ, nil)
	}
	block["url"] = str(url)
	attributes["replica"] = tftypes.NewValue(listType, []tftypes.Value{tftypes.NewValue(listType.ElementType, block)})
	return tftypes.NewValue(policy.Type(), attributes)
}
