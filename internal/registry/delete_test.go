package registry

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// onV3And28 runs test against distribution v3 and 2.8, which has no
// tag-delete API (tags go through the placeholder).
func onV3And28(t *testing.T, test func(t *testing.T, reg *testregistry.Registry)) {
	registries := map[string]func(t *testing.T) *testregistry.Registry{
		"v3":  func(t *testing.T) *testregistry.Registry { return testregistry.Start(t) },
		"2.8": func(t *testing.T) *testregistry.Registry { return testregistry.StartV28(t) },
	}
	for name, start := range registries {
		t.Run(name, func(t *testing.T) { test(t, start(t)) })
	}
}

func TestDeleteTagLeavesOtherTagsOnTheDigest(t *testing.T) {
	onV3And28(t, func(t *testing.T, reg *testregistry.Registry) {
		img, err := reg.PushImage("app", time.Time{}, "latest", "v1.9")
		if err != nil {
			t.Fatal(err)
		}
		c := newClient(t, Config{URL: reg.URL})
		ctx := context.Background()
		if err := c.DeleteTag(ctx, "app", "v1.9"); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteTag(ctx, "app", "never-existed"); err != nil {
			t.Fatalf("missing tag: %v", err)
		}
		tags, err := reg.Tags("app")
		if err != nil || !slices.Equal(tags, []string{"latest"}) {
			t.Fatalf("tags = %v, %v; want only latest", tags, err)
		}
		if found, _ := reg.ManifestExists("app", img.Digest); !found {
			t.Fatal("the image was deleted with the tag")
		}
	})
}

func TestCheckDeletable(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		opts []testregistry.Option
		kind Kind
	}{
		"enabled":  {nil, KindOther},
		"disabled": {[]testregistry.Option{testregistry.WithDeleteDisabled()}, KindDeleteDisabled},
		"readonly": {[]testregistry.Option{testregistry.WithReadOnly()}, KindReadOnly},
	} {
		t.Run(name, func(t *testing.T) {
			reg := testregistry.Start(t, tc.opts...)
			err := newClient(t, Config{URL: reg.URL}).CheckDeletable(ctx, "any/repo")
			if tc.kind == KindOther {
				if err != nil {
					t.Fatalf("CheckDeletable = %v", err)
				}
				return
			}
			if KindOf(err) != tc.kind {
				t.Fatalf("CheckDeletable = %v, want kind %v", err, tc.kind)
			}
		})
	}
}

func TestDeleteManifestThatIsGoneIsDone(t *testing.T) {
	reg := testregistry.Start(t)
	img, err := reg.PushImage("app", time.Time{}, "v1")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	for range 2 {
		if err := c.DeleteManifest(context.Background(), "app", img.Digest.String()); err != nil {
			t.Fatal(err)
		}
	}
}

// A registry with the OCI referrers API (emulated by the proxy) reports a
// referrer that no fallback tag names; the plan deletes it first.
func TestPlanFindsReferrersThroughTheAPI(t *testing.T) {
	reg := testregistry.Start(t)
	img, err := reg.PushImage("app", time.Time{}, "v1")
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := reg.PushReferrer("app", img.Digest, "sbom")
	if err != nil {
		t.Fatal(err)
	}
	// Only the API names the SBOM: drop its fallback tag.
	c := newClient(t, Config{URL: reg.URL})
	if err := c.DeleteTag(context.Background(), "app", "sha256-"+img.Digest.Hex+".sbom"); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/v2/app/referrers/") {
			return false
		}
		w.Header().Set("Content-Type", string(types.OCIImageIndex))
		idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
		if strings.HasSuffix(r.URL.Path, img.Digest.String()) {
			idx.Manifests = []v1.Descriptor{{MediaType: types.OCIManifestSchema1, Digest: sbom}}
		}
		_ = json.NewEncoder(w).Encode(idx)
		return true
	})
	c = newClient(t, Config{URL: proxy.URL})

	d, err := c.PlanManifestDeletion(context.Background(), "app", "v1", true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Referrers, []string{sbom.String()}) {
		t.Fatalf("referrers = %v, want the SBOM the API reported", d.Referrers)
	}
	if _, err := c.ExecuteManifestDeletion(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if found, _ := reg.ManifestExists("app", sbom); found {
		t.Fatal("the SBOM survived its subject")
	}
}

// A tag left pointing at a deleted manifest (a push that raced a DELETE)
// is planned on no digest and removed; the tags beside it stay.
func TestTagDeletionRemovesADanglingTag(t *testing.T) {
	onV3And28(t, func(t *testing.T, reg *testregistry.Registry) {
		if _, err := reg.PushImage("app", time.Time{}, "v1"); err != nil {
			t.Fatal(err)
		}
		if err := reg.DanglingTag("app", "ghost"); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, Config{URL: reg.URL})
		ctx := context.Background()
		plan, err := c.PlanTagDeletion(ctx, "app", []string{"ghost"}, true)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"ghost": ""}; !maps.Equal(plan.Tags, want) || len(plan.Untagged) > 0 {
			t.Fatalf("plan = %+v, want tags %v and nothing untagged", plan, want)
		}
		if _, err := c.ExecuteTagDeletion(ctx, plan); err != nil {
			t.Fatal(err)
		}
		if tags, err := reg.Tags("app"); err != nil || !slices.Equal(tags, []string{"v1"}) {
			t.Fatalf("tags = %v, %v; want only v1", tags, err)
		}
	})
}

// A dangling tag pushed again between plan and apply points at an image
// someone wants: the apply refuses, and the tag stays.
func TestTagDeletionKeepsADanglingTagPushedAgain(t *testing.T) {
	reg := testregistry.Start(t)
	if err := reg.DanglingTag("app", "ghost"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	ctx := context.Background()
	plan, err := c.PlanTagDeletion(ctx, "app", []string{"ghost"}, false)
	if err != nil {
		t.Fatal(err)
	}
	img, err := reg.PushImage("app", time.Time{}, "ghost")
	if err != nil {
		t.Fatal(err)
	}
	var changed *ChangedError
	if _, err := c.ExecuteTagDeletion(ctx, plan); !errors.As(err, &changed) || !strings.Contains(err.Error(), "moved from no manifest to "+img.Digest.String()) {
		t.Fatalf("err = %v, want a ChangedError naming the move", err)
	}
	if found, _ := reg.ManifestExists("app", img.Digest); !found {
		t.Fatal("the image pushed onto the tag was deleted")
	}
	if tags, err := reg.Tags("app"); err != nil || !slices.Equal(tags, []string{"ghost"}) {
		t.Fatalf("tags = %v, %v; want ghost", tags, err)
	}
}
