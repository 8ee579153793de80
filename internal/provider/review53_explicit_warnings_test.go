package provider

// Review 53: registry_manifest_deletion and registry_tag_deletion drop every
// warning of their apply.
//
// TestReview53ManifestDeletionDropsTheJournalWarning (reported): the
// explicit deletions run the same apply as a policy (registry.executeBatch:
// journal, checks, verification, repair), whose outcome carries warnings:
// the journal could not be stored in the registry (registry_restore cannot
// put back what the apply deletes), the registry frees a deleted
// manifest's blobs at once (Gitea: nothing can be put back), a dangling
// tag's repair left manifests put back and not deleted again as the apply
// stopped (2db6ae4: "an apply that stops first leaves it, and says so"), a
// tag that appeared resolving to nothing. registry.ExecuteManifestDeletion
// and ExecuteTagDeletion (deletion.go) return only an error, built from
// o.lost and o.skipped/o.restored: o.warnings is dropped, and the
// provider's deletionKind.execute (deletion_lifecycle.go applyDeletion)
// has no channel for one. Here the registry refuses pushes to the
// journal's repository (terraform-provider-registry/journal: credentials
// scoped to the application's repositories, 403 DENIED there): the
// deletion succeeds with no diagnostic at all, although the Undo guide
// says "every apply of a registry_retention_policy, registry_manifest_deletion
// or registry_tag_deletion ... Where the credentials cannot push, the apply
// still deletes, warns `the journal of the deletions in ... could not be
// stored in the registry`". The user believes registry_restore can undo
// the deletion; it cannot (registry_journal lists nothing). The same apply
// under registry_retention_policy warns ("Noticed during the apply").
//
// Reproduce: REVIEW53_UNSKIP=1 go test -count=1 -run TestReview53ManifestDeletionDropsTheJournalWarning ./internal/provider/

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
	reported53(t, "registry_manifest_deletion and registry_tag_deletion drop their apply's warnings (journal not stored, put-backs left, Gitea frees blobs): ExecuteManifestDeletion/ExecuteTagDeletion return only an error")
	for name, start := range map[string]func(testing.TB, ...testregistry.Option) *testregistry.Registry{
		"distribution-v3": testregistry.Start, "distribution-2.8": testregistry.StartV28,
	} {
		t.Run(name, func(t *testing.T) { manifestDeletionDropsTheJournalWarning53(t, start(t)) })
	}
}

func manifestDeletionDropsTheJournalWarning53(t *testing.T, reg *testregistry.Registry) {
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
	r := &ManifestDeletionResource{client: client, now: time.Now}
	config, schema := resourceValue(ctx, r, map[string]tftypes.Value{"repository": str("app"), "tag": str("old")})
	plan, _ := resourceValue(ctx, r, map[string]tftypes.Value{
		"repository": str("app"), "tag": str("old"), "delete_referrers": tftypes.NewValue(tftypes.Bool, true),
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
