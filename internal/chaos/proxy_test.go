package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy stands between the apply and the registry. While faults are
// on, it answers some requests itself (503 and 429, sometimes with
// Retry-After, and dropped connections) and answers others late (a
// registry that takes seconds to answer a DELETE); while the registry
// behind it restarts, it drops connections as a stopped registry refuses
// them. It also records, per repository, the tag listings and reads by
// tag the registry answered and every DELETE it was sent, so that a lost
// tag can be told apart: lost inside the registry API's window, or a real
// loss.
type faultProxy struct {
	URL      string
	requests atomic.Int64 // requests seen: the apply's progress

	mu      sync.Mutex
	on      bool
	rng     *rand.Rand
	faults  map[string]int
	refused int                // requests dropped while the registry was down
	events  map[string][]event // repository -> what the registry was sent
}

// faultMix is each fault's share of the requests while faults are on.
var faultMix = []struct {
	kind  string
	share float64
}{{"503", 0.025}, {"429", 0.025}, {"dropped connection", 0.02}, {"slow answer", 0.02}}

// event is one request the registry was sent, as it arrived.
type event struct {
	at   time.Time
	done time.Time // when the registry answered
	kind eventKind
	ref  string // the tag or digest of a manifest request
}

type eventKind int

const (
	listing  eventKind = iota // GET tags/list: a view starts with one
	tagRead                   // a manifest read by tag: only views read tags
	deletion                  // DELETE of a manifest, by digest or by tag
)

func newFaultProxy(t *testing.T, target string, seed uint64) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{rng: rand.New(rand.NewPCG(seed, 7)), faults: map[string]int{}, events: map[string][]event{}}
	forward := httputil.NewSingleHostReverseProxy(u)
	forward.ErrorHandler = p.refuse
	forward.Transport = lateTransport{http.DefaultTransport}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		r, answered := p.fault(w, r)
		if answered {
			return
		}
		at := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		forward.ServeHTTP(rec, r)
		p.record(r, at, time.Now(), rec.status >= 200 && rec.status < 300)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// lateKey marks a request whose answer is held back for that long.
type lateKey struct{}

// lateTransport holds back the registry's answer to a request marked
// late: the registry has handled it, the client waits.
type lateTransport struct{ base http.RoundTripper }

func (t lateTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if d, ok := r.Context().Value(lateKey{}).(time.Duration); ok {
		time.Sleep(d)
	}
	return resp, err
}

// statusRecorder remembers the status the registry answered; 0 when the
// connection was dropped.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection to drop it.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// refuse answers a request the registry could not take (it is restarting)
// as a stopped registry would: no HTTP answer at all, rather than the
// proxy's own 502.
func (p *faultProxy) refuse(w http.ResponseWriter, _ *http.Request, _ error) {
	p.mu.Lock()
	p.refused++
	p.mu.Unlock()
	drop(w)
}

func drop(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

// await waits until n more requests have come through or, when the apply
// is stalled (a slow answer, a restart), until patience runs out; it
// reports false if done is closed first (the apply is over).
func (p *faultProxy) await(n int, patience time.Duration, done <-chan struct{}) bool {
	target := p.requests.Load() + int64(n)
	giveUp := time.After(patience)
	for p.requests.Load() < target {
		select {
		case <-done:
			return false
		case <-giveUp:
			return true
		case <-time.After(5 * time.Millisecond):
		}
	}
	return true
}

func (p *faultProxy) setFaults(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.on = on
}

// fault draws a fault for the request. It answers the request itself
// (answered), or returns it marked to be answered late, or unchanged.
func (p *faultProxy) fault(w http.ResponseWriter, r *http.Request) (_ *http.Request, answered bool) {
	kind, retryAfter, delay := p.draw()
	if retryAfter {
		w.Header().Set("Retry-After", "1")
	}
	switch kind {
	case "503":
		w.WriteHeader(http.StatusServiceUnavailable)
	case "429":
		w.WriteHeader(http.StatusTooManyRequests)
	case "dropped connection":
		drop(w)
	case "slow answer":
		return r.WithContext(context.WithValue(r.Context(), lateKey{}, delay)), false
	default:
		return r, false
	}
	return r, true
}

// draw picks a fault by faultMix ("" for none), whether a refusal says
// Retry-After, and how late a slow answer comes (1-4 s).
func (p *faultProxy) draw() (kind string, retryAfter bool, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.on {
		return "", false, 0
	}
	roll := p.rng.Float64()
	for _, f := range faultMix {
		if roll < f.share {
			p.faults[f.kind]++
			return f.kind, f.kind != "slow answer" && p.rng.IntN(2) == 0, time.Second + time.Duration(p.rng.IntN(3000))*time.Millisecond
		}
		roll -= f.share
	}
	return "", false, 0
}

// record notes a request the registry answered: reads only when they
// succeeded (a failed read gave no view), DELETEs in any case (a registry
// stopped while handling one may have deleted without answering).
func (p *faultProxy) record(r *http.Request, at, done time.Time, succeeded bool) {
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	e := event{at: at, done: done}
	var repo string
	switch repoPart, ref, isManifest := strings.Cut(path, "/manifests/"); {
	case isManifest && r.Method == http.MethodDelete:
		repo, e.kind, e.ref = repoPart, deletion, ref
	case !succeeded:
		return
	case strings.HasSuffix(path, "/tags/list"):
		repo, e.kind = strings.TrimSuffix(path, "/tags/list"), listing
	case isManifest && !strings.HasPrefix(ref, "sha256:"):
		repo, e.kind, e.ref = repoPart, tagRead, ref
	default:
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events[repo] = append(p.events[repo], e)
}

// overlapped reports whether a DELETE of any of refs in repo was being
// handled by the registry while [start, done] (it went out before done and
// was answered after start): a push the registry handles at the same time
// as a DELETE can lose its tag to it, and leave it dangling.
func (p *faultProxy) overlapped(repo string, start, done time.Time, refs ...string) bool {
	for _, e := range p.sorted(repo) {
		if e.kind == deletion && slices.Contains(refs, e.ref) && !e.at.After(done) && !e.done.Before(start) {
			return true
		}
	}
	return false
}

// deletion finds the last DELETE of any of refs sent to the registry in
// repo, and when the apply's last check before it (a tag listing)
// started; zero when there was none.
func (p *faultProxy) deletion(repo string, refs ...string) (deleted, check time.Time, ok bool) {
	events := p.sorted(repo)
	last := lastOf(events, func(e event) bool { return e.kind == deletion && slices.Contains(refs, e.ref) })
	if last < 0 {
		return time.Time{}, time.Time{}, false
	}
	if l := lastOf(events[:last], func(e event) bool { return e.kind == listing }); l >= 0 {
		check = events[l].at
	}
	return events[last].at, check, true
}

// sorted is what the registry was sent in repo, in order of arrival.
func (p *faultProxy) sorted(repo string) []event {
	p.mu.Lock()
	events := slices.Clone(p.events[repo])
	p.mu.Unlock()
	slices.SortStableFunc(events, func(a, b event) int { return a.at.Compare(b.at) })
	return events
}

// timeline lists what the registry was sent in repo, for a report.
func (p *faultProxy) timeline(repo string) string {
	var b strings.Builder
	for _, e := range p.sorted(repo) {
		fmt.Fprintf(&b, "\n  %s %s %s", e.at.Format("15:04:05.000"), []string{"list", "read", "DELETE"}[e.kind], e.ref)
	}
	return b.String()
}

func lastOf(events []event, match func(event) bool) int {
	for i := len(events) - 1; i >= 0; i-- {
		if match(events[i]) {
			return i
		}
	}
	return -1
}

// faultCounts is what was injected, by kind, and the requests refused while
// the registry restarted.
func (p *faultProxy) faultCounts() (map[string]int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	counts := map[string]int{}
	for k, v := range p.faults {
		counts[k] = v
	}
	return counts, p.refused
}

// A DELETE counts as overlapping a race only while the registry handled it
// during the race; CHAOS_SEED=53185 had a push land while the DELETE of
// its digest was being handled, which left the tag dangling, and a later
// DELETE of the same digest took the blame.
func TestOverlappedNeedsTheDeleteInFlightDuringTheRace(t *testing.T) {
	t0 := time.Now()
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	p := &faultProxy{events: map[string][]event{"app": {
		{at: ms(0), done: ms(1), kind: listing},
		{at: ms(1), done: ms(2), kind: tagRead, ref: "latest"},
		{at: ms(10), done: ms(14), kind: deletion, ref: "sha256:d"},
	}}}
	cases := []struct {
		start, done int
		want        bool
	}{
		{12, 16, true},  // pushed while the DELETE was handled
		{15, 20, false}, // pushed after the answer
		{2, 9, false},   // pushed before the DELETE went out
	}
	for _, c := range cases {
		if got := p.overlapped("app", ms(c.start), ms(c.done), "sha256:d"); got != c.want {
			t.Errorf("race %d-%d ms: overlapped = %v, want %v", c.start, c.done, got, c.want)
		}
	}
}
