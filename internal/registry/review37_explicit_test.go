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
// Nothing kept is lost. But ExecuteManifestDeletion returns success: it
// drops the outcome's restored notes, so the resource reports the
// manifest deleted, with no warning, while the registry serves it.
func TestReview37ManifestDeletionPutBackReportsSuccess(t *testing.T) {
	reported(t, "registry_manifest_deletion reports success, without a warning, when verification put the manifest back")
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
		err = c.ExecuteManifestDeletion(context.Background(), planned)
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
