package registry

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Removing the tag of a multi-platform index with delete_untagged deletes
// the index and what it alone lists, as planned: the apply's fresh view,
// which reads only tagged indexes, must read the untagged one's children.
func TestExecuteTagDeletionDeletesTheChildrenOfAnUntaggedIndex(t *testing.T) {
	reg := testregistry.Start(t)
	index, children, err := reg.PushIndex("app", []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}, time.Time{}, "multi")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage("app", time.Time{}, "other"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	d, err := c.PlanTagDeletion(context.Background(), "app", []string{"multi"}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{index.String(), children[0].String(), children[1].String()}
	if !slices.Equal(d.Untagged, want) {
		t.Fatalf("planned %v, want %v", d.Untagged, want)
	}
	if _, err := c.ExecuteTagDeletion(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	for _, digest := range append([]v1.Hash{index}, children...) {
		if exists, err := reg.ManifestExists("app", digest); err != nil || exists {
			t.Errorf("%s: exists=%v (%v), want deleted", digest, exists, err)
		}
	}
}

// The manifests a tag deletion leaves untagged are deleted as an apply
// deletes, whatever a read takes: behind a slow registry it finishes.
func TestExecuteTagDeletionFinishesWhenViewsAreSlowToRead(t *testing.T) {
	reg := testregistry.Start(t)
	untagged, err := reg.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"latest", "stable", "v1"} {
		if _, err := reg.PushImage("app", time.Time{}, tag); err != nil {
			t.Fatal(err)
		}
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
	d, err := c.PlanTagDeletion(context.Background(), "app", []string{"pr-1"}, true)
	if err != nil {
		t.Fatal(err)
	}
	var slow atomic.Bool // from the tag's removal on: each read takes 60ms, one at a time
	proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/manifests/pr-1") {
			slow.Store(true)
		}
		if (r.Method == http.MethodHead || r.Method == http.MethodGet) && slow.Load() {
			time.Sleep(60 * time.Millisecond)
		}
		return false
	})
	if _, err := c.ExecuteTagDeletion(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	mustExist(t, reg, "app", false, untagged.Digest)
}

// Before each manifest it left untagged is deleted, a tag deletion lists
// the tags again, as an apply does: one pushed onto it since the view (a
// rollback) keeps it, and the deletion says so with a ChangedError (the
// resource must not record it deleted).
func TestExecuteTagDeletionSeesANewTagBeforeEachDelete(t *testing.T) {
	reg, proxy, images := twoImagesBehindProxy(t)
	c := newClient(t, Config{URL: proxy.URL})
	d, err := c.PlanTagDeletion(context.Background(), "app", []string{"pr-1", "pr-2"}, true)
	if err != nil {
		t.Fatal(err)
	}
	rolledBack := rollBackOnFirstRead(t, reg, proxy, images)
	var changedErr *ChangedError
	if _, err := c.ExecuteTagDeletion(context.Background(), d); !errors.As(err, &changedErr) || !strings.Contains(err.Error(), "rollback") {
		t.Fatalf("ExecuteTagDeletion: %v; want a ChangedError naming the rollback tag", err)
	}
	mustExist(t, reg, "app", true, *rolledBack)
}
