package registry

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Private registries serve TLS with a private CA: ca_pem trusts it, a
// wrong CA is refused at once (no retries) with a message naming ca_pem,
// and insecure_skip_verify gets through.
func TestTLSWithAPrivateCA(t *testing.T) {
	ca := testregistry.NewCA(t)
	for name, opts := range map[string][]testregistry.Option{
		"anonymous":  {testregistry.WithTLS(ca)},
		"token auth": {testregistry.WithTLS(ca), testregistry.WithTokenAuth("ci", "s3cret")},
	} {
		t.Run(name, func(t *testing.T) {
			reg := testregistry.Start(t, opts...)
			if _, err := reg.PushImage("app", time.Time{}, "v1"); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(reg.URL, "https://") {
				t.Fatalf("registry at %s", reg.URL)
			}
			creds := Config{URL: reg.URL, Username: reg.Username, Password: reg.Password}

			trusted := creds
			trusted.CAPEM = ca.PEM
			if tags, err := newClient(t, trusted).Tags(context.Background(), "app"); err != nil || len(tags) != 1 {
				t.Fatalf("with ca_pem: %v, %v", tags, err)
			}

			wrong := creds
			wrong.CAPEM = testregistry.NewCA(t).PEM
			start := time.Now()
			_, err := newClient(t, wrong).Tags(context.Background(), "app")
			if err == nil || !strings.Contains(err.Error(), "set ca_pem") || time.Since(start) > 5*time.Second {
				t.Fatalf("with another CA, after %v: %v", time.Since(start), err)
			}

			insecure := creds
			insecure.InsecureSkipVerify = true
			if _, err := newClient(t, insecure).Tags(context.Background(), "app"); err != nil {
				t.Fatalf("with insecure_skip_verify: %v", err)
			}
		})
	}
}

// docker_config finds credentials where Docker keeps them: an "auths"
// entry, or a credential helper named in "credHelpers".
func TestDockerConfigCredentials(t *testing.T) {
	reg := testregistry.Start(t, testregistry.WithBasicAuth("ci", "s3cret"))
	if _, err := reg.PushImage("app", time.Time{}, "v1"); err != nil {
		t.Fatal(err)
	}
	helper := t.TempDir()
	script := "#!/bin/sh\nread server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"ci\",\"Secret\":\"s3cret\"}' \"$server\"\n"
	if err := os.WriteFile(filepath.Join(helper, "docker-credential-testhelper"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", helper+string(os.PathListSeparator)+os.Getenv("PATH"))
	for name, config := range map[string]string{
		"auths":       fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.Host, base64.StdEncoding.EncodeToString([]byte("ci:s3cret"))),
		"credHelpers": fmt.Sprintf(`{"credHelpers":{%q:"testhelper"}}`, reg.Host),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("DOCKER_CONFIG", dir)
			if _, err := newClient(t, Config{URL: reg.URL, DockerConfig: true}).Tags(context.Background(), "app"); err != nil {
				t.Fatalf("with docker_config: %v", err)
			}
			if _, err := newClient(t, Config{URL: reg.URL}).Tags(context.Background(), "app"); KindOf(err) != KindUnauthorized {
				t.Fatalf("without docker_config: %v; want 401", err)
			}
		})
	}
}

// A fixed bearer_token refused after earlier successes has expired, and
// the error says so (and that it is never refreshed).
func TestExpiredBearerTokenIsNamed(t *testing.T) {
	reg := testregistry.Start(t)
	if _, err := reg.PushImage("app", time.Time{}, "v1"); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, BearerToken: "short-lived"})
	if _, err := c.Tags(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
	proxy.setFault(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusUnauthorized)
		return true
	})
	_, err := c.Tags(context.Background(), "app")
	if err == nil || !strings.Contains(err.Error(), "accepted the bearer_token earlier in this run and now refuses it") || !strings.Contains(err.Error(), "never refreshed") {
		t.Fatalf("error %v", err)
	}
	// Refused from the start, a token is just wrong.
	_, err = newClient(t, Config{URL: proxy.URL, BearerToken: "wrong"}).Tags(context.Background(), "app")
	if err == nil || strings.Contains(err.Error(), "earlier in this run") {
		t.Fatalf("a token refused from the start: %v", err)
	}
}
