package registry

import (
	"context"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestAcceptsPushes(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		opts     []testregistry.Option
		password string
		accepts  bool
		kind     Kind
	}{
		"writable":       {accepts: true},
		"read-only":      {opts: []testregistry.Option{testregistry.WithReadOnly()}},
		"token auth":     {opts: []testregistry.Option{testregistry.WithTokenAuth("ci", "secret")}, password: "secret", accepts: true},
		"wrong password": {opts: []testregistry.Option{testregistry.WithBasicAuth("ci", "secret")}, password: "wrong", kind: KindUnauthorized},
	} {
		t.Run(name, func(t *testing.T) {
			reg := testregistry.Start(t, tc.opts...)
			c := newClient(t, Config{URL: reg.URL, Username: reg.Username, Password: tc.password})
			accepts, err := c.AcceptsPushes(ctx)
			if tc.kind != KindOther {
				if KindOf(err) != tc.kind {
					t.Fatalf("err = %v (kind %d), want kind %d", err, KindOf(err), tc.kind)
				}
				return
			}
			if err != nil || accepts != tc.accepts {
				t.Fatalf("AcceptsPushes = %v, %v; want %v", accepts, err, tc.accepts)
			}
		})
	}
}

// Only a registry's 405 means read-only mode: one with the
// Docker-Distribution-API-Version header or a registry error body. A plain
// 405 from another server (a proxy refusing POST) is an error (issue 30).
func TestAcceptsPushesTrustsOnlyARegistrys405(t *testing.T) {
	for name, tc := range map[string]struct {
		header http.Header
		body   string
		ok     bool
	}{
		"plain":               {body: "405 method not allowed\n"},
		"JSON but no errors":  {body: `{"error":"method not allowed"}`},
		"registry error body": {body: `{"errors":[{"code":"UNSUPPORTED","message":"the operation is unsupported"}]}`, ok: true},
		"registry header":     {header: http.Header{"Docker-Distribution-API-Version": {"registry/2.0"}}, ok: true},
	} {
		t.Run(name, func(t *testing.T) {
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					return // /v2/ answers 200, as an open registry
				}
				maps.Copy(w.Header(), tc.header)
				w.WriteHeader(http.StatusMethodNotAllowed)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer server.Close()
			c := newClient(t, Config{URL: server.URL})
			accepts, err := c.AcceptsPushes(context.Background())
			if tc.ok {
				if err != nil || accepts {
					t.Fatalf("AcceptsPushes = %v, %v; want read-only", accepts, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "not as a registry does") {
				t.Fatalf("AcceptsPushes = %v, %v; want an error", accepts, err)
			}
		})
	}
}

// freeAddress is a loopback address nothing listens on.
func freeAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestIsStopped(t *testing.T) {
	ctx := context.Background()
	reg := testregistry.Start(t)
	if check, err := newClient(t, Config{URL: reg.URL}).IsStopped(ctx); err != nil || check.Stopped {
		t.Fatalf("a running registry: %+v, %v", check, err)
	}
	closed := freeAddress(t)
	check, err := newClient(t, Config{URL: "http://" + closed}).IsStopped(ctx)
	if err != nil || !check.Stopped || check.Address != closed {
		t.Fatalf("a closed port: %+v, %v; want stopped at %s", check, err, closed)
	}
	_, port, _ := net.SplitHostPort(closed)
	check, err = newClient(t, Config{URL: "http://localhost:" + port}).IsStopped(ctx)
	if err != nil || !check.Stopped || !strings.HasPrefix(check.Address, "localhost:"+port+" (") {
		t.Fatalf("a closed port by name: %+v, %v; want the address it resolved to", check, err)
	}
}

// ListenerStopped checks the address a registry's configuration names: a
// registry answering there, over HTTP or HTTPS, and whatever the spelling
// of a local address, is running; a closed port or an answer that is not a
// registry's means stopped; another machine's address is not checked.
func TestListenerStopped(t *testing.T) {
	ctx := context.Background()
	running := testregistry.Start(t)
	tlsRunning := testregistry.Start(t, testregistry.WithTLS(testregistry.NewCA(t)))
	_, port, _ := net.SplitHostPort(running.Host)
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			conn.Close() // accepts and says nothing
		}
	}()
	for _, tc := range []struct {
		name     string
		listener Listener
		want     string // "running", "stopped", "not local", "error"
	}{
		{"a registry", Listener{"tcp", running.Host}, "running"},
		{"a registry, any address", Listener{"tcp", ":" + port}, "running"},
		{"a registry, 0.0.0.0", Listener{"tcp", "0.0.0.0:" + port}, "running"},
		{"a registry, localhost", Listener{"tcp", "localhost:" + port}, "running"},
		{"a TLS registry", Listener{"tcp", tlsRunning.Host}, "running"},
		{"a closed port", Listener{"tcp", freeAddress(t)}, "stopped"},
		{"another server", Listener{"tcp", strings.TrimPrefix(plain.URL, "http://")}, "stopped"},
		{"no socket", Listener{"unix", filepath.Join(t.TempDir(), "registry.sock")}, "stopped"},
		{"another machine", Listener{"tcp", "192.0.2.1:5000"}, "not local"},
		{"no HTTP", Listener{"tcp", silent.Addr().String()}, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check, local, err := ListenerStopped(ctx, tc.listener)
			got := map[bool]string{true: "stopped", false: "running"}[check.Stopped]
			switch {
			case err != nil:
				got = "error"
			case !local:
				got = "not local"
			}
			if got != tc.want {
				t.Fatalf("%+v, local %v, %v: got %s, want %s", check, local, err, got, tc.want)
			}
			if tc.name == "another server" && !strings.Contains(check.Note, "not a registry") {
				t.Errorf("note %q says nothing of what answered", check.Note)
			}
		})
	}
}

func TestListenerFromConfigFile(t *testing.T) {
	dir := t.TempDir()
	for yaml, want := range map[string]Listener{
		"version: 0.1\nhttp:\n  addr: :5000\n":                           {"tcp", ":5000"},
		"version: 0.1\nhttp:\n  net: unix\n  addr: /run/registry.sock\n": {"unix", "/run/registry.sock"},
		"version: 0.1\nstorage:\n  inmemory: {}\n":                       {},
	} {
		file := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		got, found, err := ListenerFromConfigFile(file)
		if err != nil || found != (want != Listener{}) || found && got != want {
			t.Errorf("%q: %+v, %v, %v; want %+v", yaml, got, found, err, want)
		}
	}
}
