package registry

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// An answer that is not JSON where the API returns JSON is named as such,
// with the registry's URL and the request.
func TestMalformedJSONIsNamed(t *testing.T) {
	reg := testregistry.Start(t)
	if _, err := reg.PushImage("app", time.Time{}, "v1"); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/tags/list") && !strings.HasSuffix(r.URL.Path, "/_catalog") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"name":"app","tags":["v1"`))
		return true
	})
	c := newClient(t, Config{URL: proxy.URL})
	for op, call := range map[string]func() error{
		"GET /v2/app/tags/list": func() error { _, err := c.Tags(context.Background(), "app"); return err },
		"GET /v2/_catalog":      func() error { _, err := c.Repositories(context.Background()); return err },
	} {
		err := call()
		if err == nil || !strings.Contains(err.Error(), "malformed JSON") || !strings.Contains(err.Error(), proxy.URL) || !strings.Contains(err.Error(), op) {
			t.Errorf("%s: error %v; want malformed JSON named with %s and the request", op, err, proxy.URL)
		}
	}
}

// Ctrl-C (a cancelled context) reads "interrupted", not advice about
// timeouts.
func TestCancelledReadsInterrupted(t *testing.T) {
	reg := testregistry.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newClient(t, Config{URL: reg.URL}).Tags(ctx, "app")
	if err == nil || !strings.Contains(err.Error(), "interrupted") || strings.Contains(err.Error(), "request_timeout") || KindOf(err) != KindInterrupted {
		t.Fatalf("error %v", err)
	}
}
