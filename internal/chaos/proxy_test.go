package chaos

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultProxy stands between the apply and the registry: it injects faults
// (503 and 429 with Retry-After, dropped connections) at a given rate, and
// records when each repository's tag list was requested (the start of a
// view) and when each manifest DELETE arrived, so that a lost tag can be
// told apart: lost inside the registry API's window, or a real loss.
type faultProxy struct {
	URL string

	mu       sync.Mutex
	rate     float64
	rng      *rand.Rand
	faults   map[string]int
	listings map[string][]time.Time // repository -> tags/list request times
	deletes  map[string][]time.Time // digest -> DELETE arrival times
}

func newFaultProxy(t *testing.T, target string, seed uint64) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{rng: rand.New(rand.NewPCG(seed, 7)), faults: map[string]int{}, listings: map[string][]time.Time{}, deletes: map[string][]time.Time{}}
	forward := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.record(r)
		if p.fault(w, r) {
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *faultProxy) setRate(rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = rate
}

func (p *faultProxy) record(r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	switch {
	case strings.HasSuffix(path, "/tags/list"):
		repo := strings.TrimSuffix(path, "/tags/list")
		p.listings[repo] = append(p.listings[repo], now)
	case r.Method == http.MethodDelete && strings.Contains(path, "/manifests/sha256:"):
		digest := path[strings.LastIndex(path, "/")+1:]
		p.deletes[digest] = append(p.deletes[digest], now)
	}
}

// fault answers the request itself, with a fault, at the configured rate.
func (p *faultProxy) fault(w http.ResponseWriter, r *http.Request) bool {
	p.mu.Lock()
	roll := p.rng.Float64()
	kind := p.rng.IntN(3)
	hit := roll < p.rate
	if hit {
		p.faults[[]string{"503", "429", "dropped connection"}[kind]]++
	}
	p.mu.Unlock()
	if !hit {
		return false
	}
	switch kind {
	case 0:
		w.WriteHeader(http.StatusServiceUnavailable)
	case 1:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	default:
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			_ = conn.Close()
		}
	}
	return true
}

// lastListingBefore is when the view that a DELETE of digest at or before
// deadline relied on started: the last tag listing of repo before it.
func (p *faultProxy) deleteAndView(repo, digest string) (deleted, viewStart time.Time, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	times := p.deletes[digest]
	if len(times) == 0 {
		return time.Time{}, time.Time{}, false
	}
	deleted = times[0]
	for _, l := range p.listings[repo] {
		if l.Before(deleted) {
			viewStart = l
		}
	}
	return deleted, viewStart, true
}

func (p *faultProxy) faultCounts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	counts := map[string]int{}
	for k, v := range p.faults {
		counts[k] = v
	}
	return counts
}
