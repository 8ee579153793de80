package testregistry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"
)

// StartLatencyProxy puts rtt of network latency between a client and the
// registry at target ("http://127.0.0.1:PORT", a Registry's URL) for the
// duration of the test, and returns the URL to use instead of target
// ("http://127.0.0.1:PORT2"). See NewLatencyProxy.
func StartLatencyProxy(t testing.TB, target string, rtt time.Duration) string {
	t.Helper()
	proxyURL, stop, err := NewLatencyProxy(target, rtt)
	if err != nil {
		t.Fatalf("testregistry: latency proxy: %v", err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("testregistry: latency proxy: stop: %v", err)
		}
	})
	return proxyURL
}

// NewLatencyProxy starts, on a loopback port, a reverse proxy to the
// plain-HTTP server at target that adds rtt to every request: half of it
// before the request is forwarded, half before the response's status and
// headers are returned, as a network with that round-trip time would.
// Bodies stream through undelayed (the link's bandwidth is not modelled),
// and neither are connection set-ups (the proxy's connections to target
// are kept alive). Requests are not serialised: each concurrent request
// waits out its own rtt, so 8 requests at once take about rtt, not 8 rtt.
//
// Absolute URLs the server returns in Location (blob uploads), Link
// (paging) and WWW-Authenticate (the token realm) headers are rewritten
// to the proxy's, so a client stays behind the latency throughout.
//
// It is for benchmarks as much as tests: the caller must call stop, which
// closes the proxy and its connections.
func NewLatencyProxy(target string, rtt time.Duration) (proxyURL string, stop func() error, err error) {
	to, err := url.Parse(target)
	if err != nil {
		return "", nil, err
	}
	if to.Scheme != "http" || to.Host == "" {
		return "", nil, fmt.Errorf("latency proxy: target %q is not http://HOST:PORT", target)
	}
	to.Path, to.RawQuery = "", ""
	if rtt < 0 {
		return "", nil, fmt.Errorf("latency proxy: negative rtt %s", rtt)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	proxyURL = "http://" + ln.Addr().String()
	targetBase := "http://" + to.Host

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil
	transport.MaxIdleConns = 0
	transport.MaxIdleConnsPerHost = 256
	transport.DisableCompression = true

	half := rtt / 2
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(to) // the Host header too: the server sees its own name
		},
		Transport:     delayed{next: transport, before: half, after: rtt - half},
		FlushInterval: -1, // stream bodies as they come
		ModifyResponse: func(resp *http.Response) error {
			for _, h := range []string{"Location", "Link", "WWW-Authenticate"} {
				values := resp.Header.Values(h)
				resp.Header.Del(h)
				for _, v := range values {
					resp.Header.Add(h, strings.ReplaceAll(v, targetBase, proxyURL))
				}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if !errors.Is(err, context.Canceled) {
				http.Error(w, "latency proxy: "+err.Error(), http.StatusBadGateway)
			}
		},
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := srv.Shutdown(ctx)
		transport.CloseIdleConnections()
		return err
	}
	return proxyURL, stop, nil
}

// delayed is a RoundTripper that waits before sending each request and
// again before returning its response (headers; the body is not held
// back), each request on its own, giving up when the request is canceled.
type delayed struct {
	next          http.RoundTripper
	before, after time.Duration
}

func (d delayed) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := sleep(req.Context(), d.before); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := d.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if err := sleep(req.Context(), d.after); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
