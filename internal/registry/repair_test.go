package registry

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A restore pushes: the plan asks whether the credentials may, by an
// upload started and cancelled in the repository. A registry that refuses
// the push (403 DENIED, as for credentials with delete but not push)
// answers no, naming the missing right.
func TestCheckRestorableAsksForPush(t *testing.T) {
	reg := testregistry.Start(t)
	if _, err := reg.PushImage("app", time.Time{}, "v1"); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 1})
	if err := c.CheckRestorable(context.Background(), "app"); err != nil {
		t.Fatalf("a registry that takes pushes: %v", err)
	}
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
			return true
		}
		return false
	})
	err := c.CheckRestorable(context.Background(), "app")
	if err == nil || !strings.Contains(err.Error(), "push") {
		t.Fatalf("err = %v, want one naming push", err)
	}
}
