package registry

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 38: explicit deletions whose deletion verification undid.

// registry_tag_deletion with delete_untagged_manifests: the kept tag
// stable is moved onto the manifest X that pr-1's removal left untagged,
// in the instant before X's DELETE. The DELETE takes stable; verification
// puts stable back where it was and X back untagged (restoreSuspects).
// deleteStillUntagged returns a ChangedError only when an item was
// skipped, not when verification put the planned manifest back (the case
// 54e5655 fixed for registry_manifest_deletion): ExecuteTagDeletion
// succeeds, so the resource records X in deleted_manifests while the
// registry serves it.
func TestReview38TagDeletionWhoseUntaggedManifestWasPutBackReportsSuccess(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review38/tag-deletion-put-back"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		stable, err := reg.PushImage(repo, created, "stable")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		planned, err := c.PlanTagDeletion(context.Background(), repo, []string{"pr-1"}, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(planned.Untagged) != 1 || planned.Untagged[0] != x.Digest.String() {
			t.Fatalf("planned %+v; want %s deleted as left untagged", planned, x.Digest)
		}
		onFirstDeleteOf(proxy, x.Digest.String(), func() {
			if err := reg.Tag(repo, x.Digest, "stable"); err != nil {
				t.Error(err)
			}
		})
		_, err = c.ExecuteTagDeletion(context.Background(), planned)
		tagIs(t, reg, repo, "stable", stable.Digest) // put back where it was: holds
		found, ferr := reg.ManifestExists(repo, x.Digest)
		if ferr != nil {
			t.Fatal(ferr)
		}
		if found && err == nil {
			t.Errorf("ExecuteTagDeletion succeeded while %s, planned as deleted, was put back and stays: deleted_manifests would list it", x.Digest)
		}
	})
}

// The same race under registry_manifest_deletion (a kept tag stable moved
// onto the manifest X in the instant before its DELETE), with the PUT that
// puts stable back refused (a push policy, a quota). Verification puts X
// back untagged and fails to put stable back: a loss. ExecuteManifestDeletion
// sees nothing deleted and something restored, and returns the ChangedError
// "nothing deleted: ..." built from the skipped and restored notes only:
// the loss (stable, a kept tag, gone) is not named, though "a restore that
// fails is a loss and fails the apply, naming it" (Safety guide).
func TestReview38ManifestDeletionPutBackHidesALoss(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review38/explicit-put-back-lost"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "old")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		planned, err := c.PlanManifestDeletion(context.Background(), repo, "old", false)
		if err != nil {
			t.Fatal(err)
		}
		var deleted atomic.Bool
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, x.Digest.String()) && deleted.CompareAndSwap(false, true):
				if err := reg.Tag(repo, x.Digest, "stable"); err != nil {
					t.Error(err)
				}
			case r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/stable"):
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"tag is immutable"}]}`))
				return true
			}
			return false
		})
		_, err = c.ExecuteManifestDeletion(context.Background(), planned)
		if got := resolvesTo(t, reg, repo, "stable"); !strings.HasPrefix(got, "error") {
			t.Skipf("stable resolves to %s: nothing lost, nothing to report", got)
		}
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), "putting it back failed") {
			t.Errorf("ExecuteManifestDeletion returned %v; want an error naming the kept tag stable, gone and not put back", err)
		}
	})
}
