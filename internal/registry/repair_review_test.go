package registry

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A tag pushed onto the target after the first check (here: while the
// journal is stored) makes the last check skip the deletion, and
// ExecuteManifestDeletion says nothing was deleted (review finding: it
// returned nil, and the resource claimed a deletion that did not happen).
func TestExecuteManifestDeletionFailsWhenSkippedAtTheLastCheck(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		x, _ := reg.PushImage("app", time.Time{}, "pr-1")
		if _, err := reg.PushImage("app", time.Time{}, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		d, err := c.PlanManifestDeletion(context.Background(), "app", "pr-1", false)
		if err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/journal/manifests/") {
				once.Do(func() {
					if err := reg.Tag("app", x.Digest, "hotfix"); err != nil {
						t.Error(err)
					}
				})
			}
			return false
		})
		_, err = c.ExecuteManifestDeletion(context.Background(), d)
		exists, _ := reg.ManifestExists("app", x.Digest)
		t.Logf("err=%v, manifest still exists=%v", err, exists)
		if err == nil && exists {
			t.Errorf("ExecuteManifestDeletion returned nil but %s was not deleted", x.Digest)
		}
	})
}

// delete_untagged_manifests: when the first planned untagged manifest is
// tagged again, it stays and the others are still deleted (review finding:
// the whole list was skipped, silently).
func TestExecuteTagDeletionDeletesTheOtherUntaggedManifests(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		a, _ := reg.PushImage("app", time.Time{}, "a")
		b, _ := reg.PushImage("app", time.Time{}, "b")
		if _, err := reg.PushImage("app", time.Time{}, "stable"); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, Config{URL: reg.URL})
		d, err := c.PlanTagDeletion(context.Background(), "app", []string{"a", "b"}, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("untagged planned: %v", d.Untagged)
		first, other := a, b
		if d.Untagged[0] == b.Digest.String() {
			first, other = b, a
		}
		if err := reg.Tag("app", first.Digest, "c"); err != nil { // someone tags it again
			t.Fatal(err)
		}
		_, err = c.ExecuteTagDeletion(context.Background(), d)
		fe, _ := reg.ManifestExists("app", first.Digest)
		oe, _ := reg.ManifestExists("app", other.Digest)
		t.Logf("err=%v first(retagged) exists=%v other(still untagged) exists=%v", err, fe, oe)
		if oe && err == nil {
			t.Errorf("the other untagged manifest %s stays, and no error says so", other.Digest)
		}
	})
}
