package registry

import (
	"context"
	"strings"
	"testing"
)

func TestValidateRepository(t *testing.T) {
	for _, good := range []string{"app", "team/app", "a/b/c", "my-app", "my__app", "my.app", "a--b", strings.Repeat("a", 255), "0"} {
		if err := ValidateRepository(good); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
	for _, bad := range []string{"x/../app", "a//b", "a/b/", "/app", "./app", "a/./b", "..", "App", "app:v1", "app@sha256:" + strings.Repeat("a", 64),
		"localhost:5000/app", "-app", "app-", "a..b", "a___b", "", strings.Repeat("a", 256), "a b"} {
		if err := ValidateRepository(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A name the registry library would clean into another repository is
// refused before any request: "x/../app" would otherwise delete in "app".
func TestPathTraversalIsRefusedBeforeAnyRequest(t *testing.T) {
	proxy := newFaultProxy(t, "http://127.0.0.1:1")
	c := newClient(t, Config{URL: proxy.URL})
	if err := c.DeleteManifest(context.Background(), "x/../app", "sha256:"+strings.Repeat("a", 64)); err == nil || !strings.Contains(err.Error(), "not a valid repository name") {
		t.Fatalf("error %v", err)
	}
	if n := proxy.requests.Load(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}
