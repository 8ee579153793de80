package registry

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// registry_restore (PlanRestore, ExecuteRestore) after the review 45 fix
// of the apply's own restore: the apply now always writes the journaled
// bytes again, because distribution's blob descriptor cache answers HEAD
// 200 for a manifest whose revision link a racing request outlived
// (review45_stale_test.go). registry_restore still decides by HEAD
// (availability.present): an image it finds "present" is not written.
// (Fixed: registry_restore writes the journaled bytes of every manifest
// it lists through putBack, the apply's own restore's function; HEAD
// decides only the wording, and a "present" child is listed, not
// dropped.)
//
// A multi-platform index pr-1 is deleted by the apply, as the policy
// says; a node pulls one of its platform images by digest while the
// registry handles that child's DELETE (the cache cleared, the link not
// yet deleted). The user then restores pr-1 with registry_restore: the
// plan finds the child "present" (HEAD 200 from the cache) and drops it,
// the restore PUTs the other child and the index (the registry checks the
// index's children through the same cache) and reports success. The
// storage has no link for the child: a restarted registry (the Garbage
// collection guide's restart, or another instance over the same storage)
// serves pr-1 without that platform, and garbage collection frees its
// blobs.
//
// Regression test of review 47 (fixed)
func TestReview47RestoreTrustsStaleHeadForAChild(t *testing.T) {
	dir := t.TempDir()
	const repo = "app"
	var reg *testregistry.Registry
	var childHex string
	var once sync.Once
	var raced atomic.Bool
	reg = startHooked45(t, dir, func(path string) {
		if childHex != "" && strings.Contains(path, "/_manifests/revisions/sha256/"+childHex) {
			once.Do(func() { // a pull by digest, inside the DELETE: cache cleared, link still there
				raced.Store(true)
				if _, err := reg.ManifestExists(repo, mustHash(t, "sha256:"+childHex)); err != nil {
					t.Error(err)
				}
			})
		}
	})
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	index, children, err := reg.PushIndex(repo, platforms, time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage(repo, time.Time{}, "stable"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	batch := planPolicy(t, c, repo, "^pr-")
	if len(batch.Manifests) != 1 || len(batch.Manifests[0].Children) != 2 {
		t.Fatalf("planned %+v; want pr-1's index with both children", batch.Manifests)
	}
	childHex = strings.TrimPrefix(children[0].String(), "sha256:")
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	if err != nil || len(report.Lost) > 0 {
		t.Fatalf("apply: %v, lost %q", err, report.Lost)
	}
	if !raced.Load() {
		t.Fatal("the child's DELETE was never raced")
	}
	planned := restore(t, otherMachine(t, reg), RestoreSelection{Repository: repo, Tags: []string{"pr-1"}})
	for _, img := range planned.Images {
		t.Logf("planned %s present=%v tags=%v why=%q", img.Digest, img.Present, img.Tags, img.Why)
	}
	mustPull(t, reg, repo, "pr-1") // the registry that ran it: served from its cache
	restarted := testregistry.Start(t, testregistry.WithRootDir(dir))
	if err := restarted.Pull(repo, "pr-1"); err != nil {
		t.Errorf("registry_restore of pr-1 succeeded, but over the same storage after a restart pr-1 does not pull: %v", err)
	}
	mustExist(t, restarted, repo, true, index, children[0], children[1])
}
