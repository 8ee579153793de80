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

// A registry that frees a deleted manifest's blobs as it deletes it
// (Gitea 1.26 does: its blobs answer 404 at once, and a manifest PUT of
// the deleted bytes fails BLOB_UNKNOWN) leaves nothing to put back: the
// apply says so, once per repository. Distribution keeps the blobs until
// garbage collection: no such warning there. Gitea's behaviour is played
// by a proxy in front of a real registry that answers 404 for every blob
// once a manifest was deleted.
func TestApplyWarnsWhenTheRegistryFreesBlobsAtOnce(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		for i := range 3 {
			if _, err := reg.PushImage("app", time.Time{}, "pr-"+string(rune('1'+i))); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := reg.PushImage("app", time.Time{}, "stable"); err != nil {
			t.Fatal(err)
		}
		for _, freesAtOnce := range []bool{false, true} {
			repo := "app"
			if freesAtOnce {
				repo = "gitea/app"
				for i := range 3 {
					if _, err := reg.PushImage(repo, time.Time{}, "pr-"+string(rune('1'+i))); err != nil {
						t.Fatal(err)
					}
				}
			}
			proxy := newFaultProxy(t, reg.URL)
			var deleted atomic.Bool
			proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/manifests/") {
					deleted.Store(true)
				}
				if freesAtOnce && deleted.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusNotFound)
					_, _ = w.Write([]byte(`{"errors":[{"code":"BLOB_UNKNOWN","message":""}]}`))
					return true
				}
				return false
			})
			c := newClient(t, Config{URL: proxy.URL})
			report, err := c.ExecuteBatches(context.Background(), []Batch{planPolicy(t, c, repo, "^pr-")})
			if err != nil {
				t.Fatal(err)
			}
			var warned []string
			for _, w := range report.Warnings {
				if strings.Contains(w, "frees a deleted manifest's blobs") {
					warned = append(warned, w)
				}
			}
			switch {
			case freesAtOnce && len(warned) != 1:
				t.Errorf("blobs freed at once: %d warnings about it (%q); want one", len(warned), report.Warnings)
			case !freesAtOnce && len(warned) != 0:
				t.Errorf("blobs kept until garbage collection: warned %q", warned)
			}
			if freesAtOnce && len(warned) == 1 && !strings.Contains(warned[0], `"gitea/app"`) {
				t.Errorf("the warning does not name the repository: %s", warned[0])
			}
		}
	})
}
