package registry

import (
	"context"
	"slices"
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
	if err := c.ExecuteTagDeletion(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	for _, digest := range append([]v1.Hash{index}, children...) {
		if exists, err := reg.ManifestExists("app", digest); err != nil || exists {
			t.Errorf("%s: exists=%v (%v), want deleted", digest, exists, err)
		}
	}
}
