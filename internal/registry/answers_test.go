package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// cutBody sends the headers and the start of a tag list promising more,
// then closes the connection: a registry killed (or a proxy dropping the
// connection) while it answers.
func cutBody(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "200")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"name":"app","tags":["v1"`))
	w.(http.Flusher).Flush()
	dropConnection(w)
}

func pushApp(t *testing.T) *testregistry.Registry {
	t.Helper()
	reg := testregistry.Start(t)
	if _, err := reg.PushImage("app", time.Time{}, "v1"); err != nil {
		t.Fatal(err)
	}
	return reg
}

// An answer cut mid-body is retried like a connection cut before the
// headers; it used to surface as "malformed JSON".
func TestCutAnswerIsRetried(t *testing.T) {
	proxy := newFaultProxy(t, pushApp(t).URL)
	fault, served := failFirst(2, "/tags/list", cutBody)
	proxy.setFault(fault)
	tags, err := newClient(t, Config{URL: proxy.URL}).Tags(context.Background(), "app")
	if err != nil || len(tags) != 1 || served.Load() != 2 {
		t.Fatalf("tags %v, error %v after %d cut answers", tags, err, served.Load())
	}
}

// An answer cut at every try is named as a broken connection, not as
// malformed JSON with advice about url.
func TestCutAnswerIsNamed(t *testing.T) {
	proxy := newFaultProxy(t, pushApp(t).URL)
	fault, _ := failFirst(100, "/tags/list", cutBody)
	proxy.setFault(fault)
	_, err := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 2}).Tags(context.Background(), "app")
	if err == nil || !strings.Contains(err.Error(), "connection broke while the answer to GET "+proxy.URL+"/v2/app/tags/list") ||
		strings.Contains(err.Error(), "malformed JSON") || KindOf(err) != KindUnavailable {
		t.Fatalf("error %v", err)
	}
}

// A manifest body that is not JSON is named as malformed JSON with the
// registry's URL and what was being read.
func TestMalformedManifestIsNamed(t *testing.T) {
	proxy := newFaultProxy(t, pushApp(t).URL)
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/manifests/v1") {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		_, _ = w.Write([]byte("<html>502 from a proxy</html>"))
		return true
	})
	_, err := newClient(t, Config{URL: proxy.URL}).Describe(context.Background(), "app", "v1")
	if err == nil || !strings.Contains(err.Error(), "reading app:v1") || !strings.Contains(err.Error(), "malformed JSON") || !strings.Contains(err.Error(), proxy.URL) {
		t.Fatalf("error %v", err)
	}
}

// A try that outlasts request_timeout keeps its advice; only Ctrl-C reads
// "interrupted".
func TestAttemptTimeoutKeepsItsAdvice(t *testing.T) {
	proxy := newFaultProxy(t, pushApp(t).URL)
	stalled := make(chan struct{})
	t.Cleanup(func() { close(stalled) })
	proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/tags/list") {
			return false
		}
		<-stalled
		return true
	})
	c := newClient(t, Config{URL: proxy.URL, RequestTimeout: 200 * time.Millisecond, RetryMaxAttempts: 2})
	_, err := c.Tags(context.Background(), "app")
	if err == nil || !strings.Contains(err.Error(), "raise request_timeout") || strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("error %v", err)
	}
}

// The budget is spent to its end: the last try starts when
// retry_max_elapsed is up, not a backoff (up to 10s) before.
func TestRetryBudgetRunsToItsEnd(t *testing.T) {
	var now time.Time
	tries := 0
	rt := &retryTransport{
		next: roundTripFunc(func(*http.Request) (*http.Response, error) {
			tries++
			return nil, errors.New("connection refused")
		}),
		maxElapsed: time.Minute,
		sleep:      func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil },
		now:        func() time.Time { return now },
	}
	req, _ := http.NewRequest(http.MethodGet, "http://registry.test/v2/", nil)
	if resp, err := rt.RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Fatal("no error")
	}
	if waited := now.Sub(time.Time{}); waited != time.Minute {
		t.Fatalf("gave up after %v of waiting (%d tries); want the whole minute", waited, tries)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
