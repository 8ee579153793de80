package provider

// Regression test of review 53 (fixed: registry_manifest_deletion and registry_tag_deletion warn what their apply noticed); failed before the fix.
//
// TestReview53ManifestDeletionDropsTheJournalWarning (both resources, on
// distribution v3 and 2.8): the explicit deletions run the same apply as
// a policy (registry.executeBatch:
// journal, checks, verification, repair), whose outcome carries warnings:
// the journal could not be stored in the registry (registry_restore cannot
// put back what the apply deletes), the registry frees a deleted
// manifest's blobs at once (Gitea: nothing can be put back), a dangling
// tag's repair left manifests put back and not deleted again as the apply
// stopped (2db6ae4: "an apply that stops first leaves it, and says so"), a
// tag that appeared resolving to nothing. registry.ExecuteManifestDeletion
// and ExecuteTagDeletion (deletion.go) returned only an error, built from
// o.lost and o.skipped/o.restored: o.warnings was dropped, and the
// provider's deletionKind.execute (deletion_lifecycle.go applyDeletion)
// had no channel for one. Here the registry refuses pushes to the
// journal's repository (terraform-provider-registry/journal: credentials
// scoped to the application's repositories, 403 DENIED there): the
// deletion succeeded with no diagnostic at all, although the Undo guide
// says "every apply of a registry_retention_policy, registry_manifest_deletion
// or registry_tag_deletion ... Where the credentials cannot push, the apply
// still deletes, warns `the journal of the deletions in ... could not be
// stored in the registry`". The user believes registry_restore can undo
// the deletion; it cannot (registry_journal lists nothing). The same apply
// under registry_retention_policy warns ("Noticed during the apply").
//
// Fixed: ExecuteManifestDeletion and ExecuteTagDeletion return the
// registry.Report of their apply (warnings, put-backs, losses, skips their
// error does not say), and applyDeletion reports it as the policy's apply
// does (reportApplied): warnings on apply, each loss an error.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview53ManifestDeletionDropsTheJournalWarning(t *testing.T) {
	for name, start := range map[string]func(testing.TB, ...testregistry.Option) *testregistry.Registry{
		"distribution-v3": testregistry.Start, "distribution-2.8": testregistry.StartV28,
	} {
		t.Run(name, func(t *testing.T) {
			t.Run(manifestDeletionType, func(t *testing.T) { explicitDeletionDropsTheJournalWarning53(t, start(t), manifestDeletion53) })
			t.Run(tagDeletionType, func(t *testing.T) { explicitDeletionDropsTheJournalWarning53(t, start(t), tagDeletion53) })
		})
	}
}

// manifestDeletion53 and tagDeletion53 are a registry_manifest_deletion of
// app:old and a registry_tag_deletion of its tag old that also deletes the
// manifest it leaves untagged: the resource, its configuration and plan.
func manifestDeletion53(client *registry.Client) (fwresource.ResourceWithModifyPlan, map[string]tftypes.Value, map[string]tftypes.Value) {
	return &ManifestDeletionResource{client: client, now: time.Now},
		map[string]tftypes.Value{"repository": str("app"), "tag": str("old")},
		map[string]tftypes.Value{
			"repository": str("app"), "tag": str("old"), "delete_referrers": tftypes.NewValue(tftypes.Bool, true),
			"allow_breaking_indexes": tftypes.NewValue(tftypes.Bool, false),
			"digest":                 tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
		}
}

func tagDeletion53(client *registry.Client) (fwresource.ResourceWithModifyPlan, map[string]tftypes.Value, map[string]tftypes.Value) {
	config := map[string]tftypes.Value{"repository": str("app"), "tags": strSet("old"), "delete_untagged_manifests": tftypes.NewValue(tftypes.Bool, true)}
	return &TagDeletionResource{client: client, now: time.Now}, config, config
}

func explicitDeletionDropsTheJournalWarning53(t *testing.T, reg *testregistry.Registry,
	deletion func(*registry.Client) (fwresource.ResourceWithModifyPlan, map[string]tftypes.Value, map[string]tftypes.Value)) {
	ctx := context.Background()
	old, err := reg.PushImage("app", time.Time{}, "old")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage("app", time.Time{}, "stable"); err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	var journalRefused atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && strings.HasPrefix(r.URL.Path, "/v2/"+registry.JournalRepository+"/") {
			journalRefused.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	client, err := registry.New(ctx, registry.Config{URL: proxy.URL, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r, configValues, planValues := deletion(client)
	config, schema := resourceValue(ctx, r, configValues)
	plan, _ := resourceValue(ctx, r, planValues)
	planned := fwresource.ModifyPlanResponse{Plan: tfsdk.Plan{Schema: schema.Schema, Raw: plan}}
	r.ModifyPlan(ctx, fwresource.ModifyPlanRequest{
		Config: tfsdk.Config{Schema: schema.Schema, Raw: config},
		Plan:   tfsdk.Plan{Schema: schema.Schema, Raw: plan},
		State:  tfsdk.State{Schema: schema.Schema, Raw: tftypes.NewValue(config.Type(), nil)},
	}, &planned)
	if planned.Diagnostics.HasError() {
		t.Fatalf("plan: %v", planned.Diagnostics)
	}
	created := fwresource.CreateResponse{State: tfsdk.State{Schema: schema.Schema, Raw: tftypes.NewValue(config.Type(), nil)}}
	r.Create(ctx, fwresource.CreateRequest{
		Config: tfsdk.Config{Schema: schema.Schema, Raw: config},
		Plan:   planned.Plan,
	}, &created)
	t.Logf("plan diagnostics: %v\napply diagnostics: %v", planned.Diagnostics, created.Diagnostics)
	if created.Diagnostics.HasError() {
		t.Fatalf("apply: %v", created.Diagnostics)
	}
	if exists, err := reg.ManifestExists("app", old.Digest); err != nil || exists {
		t.Fatalf("%s exists = %v (%v); want it deleted", old.Digest, exists, err)
	}
	if journalRefused.Load() == 0 {
		t.Fatal("the journal was never pushed: the apply changed")
	}
	for _, d := range append(planned.Diagnostics.Warnings(), created.Diagnostics.Warnings()...) {
		if strings.Contains(d.Detail(), "could not be stored in the registry") {
			return
		}
	}
	t.Fatalf("the manifest was deleted, its journal refused by the registry (%d pushes answered 403), and no warning says registry_restore cannot put it back; diagnostics: plan %v, apply %v",
		journalRefused.Load(), planned.Diagnostics, created.Diagnostics)
}
