package registry

import (
	"context"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 37: explicit deletions (registry_manifest_deletion) with races.

// A kept tag (stable) is moved onto the manifest registry_manifest_deletion
// deletes, in the registry API's window before its DELETE. The DELETE
// takes stable along; verification puts stable back on its image and the
// deleted manifest back, untagged (restoreSuspects: when in doubt, keep).
// Nothing kept is lost. ExecuteManifestDeletion returned success,
// dropping the outcome's restored notes, so the resource reported the
// manifest deleted while the registry served it; now it is a ChangedError
// naming what was put back.
func TestReview37ManifestDeletionPutBackReportsSuccess(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review37/explicit-put-back"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "old")
		if err != nil {
			t.Fatal(err)
		}
		stable, err := reg.PushImage(repo, created, "stable")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		planned, err := c.PlanManifestDeletion(context.Background(), repo, "old", false)
		if err != nil {
			t.Fatal(err)
		}
		onFirstDeleteOf(proxy, x.Digest.String(), func() {
			if err := reg.Tag(repo, x.Digest, "stable"); err != nil {
				t.Error(err)
			}
		})
		_, err = c.ExecuteManifestDeletion(context.Background(), planned)
		tagIs(t, reg, repo, "stable", stable.Digest) // nothing kept lost: holds
		exists, ferr := reg.ManifestExists(repo, x.Digest)
		if ferr != nil {
			t.Fatal(ferr)
		}
		if exists && err == nil {
			t.Errorf("ExecuteManifestDeletion succeeded while %s is served again (put back by verification): the resource reports a deletion that did not happen", x.Digest)
		}
	})
}

// registry_tag_deletion with delete_untagged_manifests: a tag pushed onto
// the manifest the plan leaves untagged, after the plan. The apply removes
// the planned tag and keeps the manifest (tagged again: right), but
// deleteStillUntagged drops the outcome's skip note and returns success,
// so the resource records the manifest in deleted_manifests, with no
// warning, while the registry serves it. (The tag removal itself, when
// contradicted, is an error naming what changed.)
func TestReview37TagDeletionKeepsATaggedAgainManifestSilently(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review37/tag-deletion-tagged-again"
		x, err := reg.PushImage(repo, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), "old")
		if err != nil {
			t.Fatal(err)
		}
		c := newClient(t, Config{URL: reg.URL})
		planned, err := c.PlanTagDeletion(context.Background(), repo, []string{"old"}, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(planned.Untagged) != 1 || planned.Untagged[0] != x.Digest.String() {
			t.Fatalf("planned %+v; want %s deleted as left untagged", planned, x.Digest)
		}
		if err := reg.Tag(repo, x.Digest, "new"); err != nil {
			t.Fatal(err)
		}
		_, err = c.ExecuteTagDeletion(context.Background(), planned)
		tagIs(t, reg, repo, "new", x.Digest) // the kept tag keeps it: holds
		if err == nil {
			t.Errorf("ExecuteTagDeletion succeeded while %s, planned as deleted, stays (tagged again since the plan): nothing says so", x.Digest)
		}
	})
}
