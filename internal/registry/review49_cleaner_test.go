package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// The Gitea case of review 48 (a kept tag moved onto a planned image, the
// image it moved away from dropped), on distribution: the image stable
// moved away from is deleted by someone else (a cleaner of untagged
// manifests, another configuration's registry_tag_deletion with
// delete_untagged_manifests) in the instant before the DELETE of the
// planned image stable moved onto. The DELETE takes stable. restoreTag
// finds stable's last-read image neither journaled nor served and, since
// distribution does not free blobs at once (freesAtOnce false), leaves it
// at a warning that blames an image "this apply did not delete": the
// planned image stable pointed at, which this apply deleted and could put
// back (its blobs are all there), is not put back, not reported lost, and
// the apply succeeds. The Safety guide promises the moved tag "comes back
// where it pointed before (the move is lost, the tag is not)", and for
// two owners of a repository "put it back with those manifests, untagged
// (when in doubt, keep)".
// Regression test of review 49 (fixed).
func TestReview49KeptTagMovedOntoPlannedImageWhoseOldImageACleanerDeleted(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review49/cleaner"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		old, err := reg.PushImage(repo, created, "stable")
		if err != nil {
			t.Fatal(err)
		}
		planned, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 {
			t.Fatalf("planned %+v; want pr-1's image", batch.Manifests)
		}
		onFirstDeleteOf(proxy, planned.Digest.String(), func() {
			if err := reg.Tag(repo, planned.Digest, "stable"); err != nil { // the rollback
				t.Error(err)
			}
			if err := reg.DeleteManifest(repo, old.Digest); err != nil { // the cleaner: old is untagged now
				t.Error(err)
			}
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Deleted)
		back := strings.Contains(strings.Join(report.Restored, "\n"), planned.Digest.String())
		if err == nil && len(report.Lost) == 0 && !back {
			t.Errorf("stable (kept, moved onto %s after the plan) is gone with that image, which this apply deleted and does not put back; the apply succeeded, naming no loss", planned.Digest)
		}
		if found, _ := reg.ManifestExists(repo, planned.Digest); !found && len(report.Lost) == 0 {
			t.Errorf("%s (stable's image at the DELETE) is deleted and the report names no loss", planned.Digest)
		}
	})
}
