package registry

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// faultProxy sits between the client and a real registry and misbehaves on
// purpose: each request first goes through fault, which may answer it
// itself (return true) or let it through to the registry.
type faultProxy struct {
	URL      string
	requests atomic.Int64

	mu       sync.Mutex
	inFlight int
	maxSeen  int
	fault    func(w http.ResponseWriter, r *http.Request) bool
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		p.enter()
		defer p.leave()
		if f := p.currentFault(); f != nil && f(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *faultProxy) setFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

func (p *faultProxy) currentFault() func(http.ResponseWriter, *http.Request) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fault
}

func (p *faultProxy) enter() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight++
	p.maxSeen = max(p.maxSeen, p.inFlight)
}

func (p *faultProxy) leave() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight--
}

func (p *faultProxy) maxInFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxSeen
}

// failFirst answers the first n requests whose path contains pathPart with
// answer, then lets everything through. It counts the failures it served.
func failFirst(n int, pathPart string, answer func(w http.ResponseWriter)) (func(http.ResponseWriter, *http.Request) bool, *atomic.Int64) {
	var served atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, pathPart) || served.Load() >= int64(n) {
			return false
		}
		served.Add(1)
		answer(w)
		return true
	}, &served
}

// dropConnection closes the TCP connection without answering.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}
