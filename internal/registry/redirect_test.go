package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A registry (or a proxy in front of it) that answers a DELETE with a
// redirect deletes nothing, and the error says so, naming the Location;
// followed, the redirect would have become a GET whose 200 read as
// "deleted".
func TestRedirectedWritesAreNotFollowed(t *testing.T) {
	reg := testregistry.Start(t)
	img, err := reg.PushImage("app", time.Time{}, "v1")
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(elsewhere.Close)
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		proxy := newFaultProxy(t, reg.URL)
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodDelete {
				return false
			}
			http.Redirect(w, r, elsewhere.URL+r.URL.Path, status)
			return true
		})
		c := newClient(t, Config{URL: proxy.URL})
		err := c.DeleteManifest(context.Background(), "app", img.Digest.String())
		var redirect *RedirectError
		if !errors.As(err, &redirect) || !strings.Contains(err.Error(), elsewhere.URL) || !strings.Contains(err.Error(), "nothing was changed") {
			t.Errorf("%d: error %v; want a redirect error naming %s", status, err, elsewhere.URL)
		}
		if found, err := reg.ManifestExists("app", img.Digest); err != nil || !found {
			t.Fatalf("%d: the manifest is gone (err %v)", status, err)
		}
	}
}
