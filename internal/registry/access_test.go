package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
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
			if err == nil || !strings.Contains(err.Error(), "not signed by a trusted CA") || !strings.Contains(err.Error(), "set ca_pem") || time.Since(start) > 5*time.Second {
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

// Each way a certificate can be refused gets the advice that fixes it:
// ca_pem helps only when its signer is unknown.
func TestCertificateErrorsSayWhatFixesThem(t *testing.T) {
	block, _ := pem.Decode([]byte(testregistry.NewCA(t).PEM))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: "https://registry.example.com"})
	for _, tc := range []struct {
		err     error
		want    string
		notWant string
	}{
		{x509.UnknownAuthorityError{Cert: cert}, "not signed by a trusted CA", ""},
		{x509.HostnameError{Certificate: cert, Host: "registry.example.com"}, "set url to a host name the certificate names", "ca_pem"},
		{x509.CertificateInvalidError{Cert: cert, Reason: x509.Expired}, "renew or fix it on the registry", "ca_pem"},
	} {
		got := c.translate("listing tags", "app", needPull, &url.Error{Op: "Get", URL: "https://registry.example.com/v2/", Err: &tls.CertificateVerificationError{Err: tc.err}}).Error()
		if !strings.Contains(got, tc.want) || (tc.notWant != "" && strings.Contains(got, tc.notWant)) {
			t.Errorf("%T: %s; want %q", tc.err, got, tc.want)
		}
	}
}

// docker_config finds credentials where Docker keeps them: an "auths"
// entry, or a credential helper named in "credHelpers".
func TestDockerConfigCredentials(t *testing.T) {
	reg := testregistry.Start(t, testregistry.WithBasicAuth("ci", "s3cret"))
	if _, err := reg.PushImage("app", time.Time{}, "v1"); err != nil {
		t.Fatal(err)
	}
	reg.InstallCredentialHelper(t, "testhelper")
	for name, config := range map[string]string{
		"auths":       reg.DockerConfigAuths(),
		"credHelpers": reg.DockerConfigHelper("testhelper"),
	} {
		t.Run(name, func(t *testing.T) {
			testregistry.UseDockerConfig(t, config)
			if _, err := newClient(t, Config{URL: reg.URL, DockerConfig: true}).Tags(context.Background(), "app"); err != nil {
				t.Fatalf("with docker_config: %v", err)
			}
			if _, err := newClient(t, Config{URL: reg.URL}).Tags(context.Background(), "app"); KindOf(err) != KindUnauthorized {
				t.Fatalf("without docker_config: %v; want 401", err)
			}
		})
	}
}

// tokenExpiresAfter lets n requests carrying a token through, then answers
// 401 to every one, as a registry does once a fixed token expires. The /v2/
// ping, which carries no credentials, stays open.
func tokenExpiresAfter(n int64) func(http.ResponseWriter, *http.Request) bool {
	var accepted atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") == "" || accepted.Add(1) <= n {
			return false
		}
		w.WriteHeader(http.StatusUnauthorized)
		return true
	}
}

// A fixed bearer_token refused after earlier successes has expired, and
// the error says so (and that it is never refreshed); refused from its
// first use, it is just wrong, whatever the open /v2/ ping answered.
func TestExpiredBearerTokenIsNamed(t *testing.T) {
	reg := testregistry.Start(t)
	if _, err := reg.PushImage("app", time.Time{}, "v1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		accepted int64
		want     string
	}{
		{"expires mid-run", 3, "it has probably expired; bearer_token is never refreshed"},
		{"refused from the start", 0, "rejected the credentials (401 Unauthorized)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			proxy := newFaultProxy(t, reg.URL)
			proxy.setFault(tokenExpiresAfter(c.accepted))
			client := newClient(t, Config{URL: proxy.URL, BearerToken: "short-lived", RetryMaxAttempts: 1})
			var err error
			for range c.accepted + 1 {
				if _, err = client.Tags(context.Background(), "app"); err != nil {
					break
				}
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("after %d accepted requests: %v; want %q", c.accepted, err, c.want)
			}
		})
	}
}

// Gitea answers a write the credentials may not make with 401 (body
// reqPackageAccess), not 403: once the same credentials read, the error
// says they lack the permission, not that they are wrong.
func TestWriteRefusedWith401AfterReadsNamesThePermission(t *testing.T) {
	reg := testregistry.Start(t, testregistry.WithBasicAuth("ci", "s3cret"))
	v1, err := reg.PushImage("app", time.Time{}, "v1")
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return false
		}
		w.Header().Set("Www-Authenticate", `Basic realm="Gitea Package API"`)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte("reqPackageAccess\n"))
		return true
	})
	c := newClient(t, Config{URL: proxy.URL, Username: "ci", Password: "s3cret", RetryMaxAttempts: 1})
	if _, err := c.Tags(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
	err = c.DeleteManifest(context.Background(), "app", v1.Digest.String())
	if KindOf(err) != KindForbidden || !strings.Contains(err.Error(), `lack "delete" permission`) || strings.Contains(err.Error(), "check username and password") {
		t.Fatalf("DELETE refused with 401 after reads: %v (kind %v); want the missing delete permission named", err, KindOf(err))
	}
}
