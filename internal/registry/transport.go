package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Every request of a Client goes through one chain of round-trippers,
// under go-containerregistry's auth and paging and over one pooled
// *http.Transport (baseTransport, client.go):
//
//	ggcr auth/paging -> schemeTransport -> noWriteRedirects -> retryTransport
//	  -> limitTransport -> successWatch -> http.Transport
//
//   - schemeTransport pins the configured scheme (ggcr talks plain HTTP to
//     private addresses even when https:// was configured);
//   - noWriteRedirects refuses a redirected write (never followed);
//   - retryTransport retries what means "try again later", honouring
//     Retry-After (ggcr's own retries ignore it and are disabled);
//   - limitTransport bounds the requests in flight (max_concurrency).
//     Retries sit outside it so that a request waiting out a Retry-After
//     does not hold a slot;
//   - successWatch records that the registry accepted the credentials.

// transportChain builds the chain above over base for the registry at u.
func transportChain(cfg Config, u *url.URL, base http.RoundTripper, answered *atomic.Bool) http.RoundTripper {
	return &schemeTransport{
		host:   u.Host,
		scheme: u.Scheme,
		next: &noWriteRedirects{next: &retryTransport{
			next:        &limitTransport{next: &successWatch{next: base, answered: answered}, slots: make(chan struct{}, cfg.MaxConcurrency)},
			maxAttempts: cfg.RetryMaxAttempts,
			maxElapsed:  cfg.RetryMaxElapsed,
			timeout:     cfg.RequestTimeout,
			sleep:       sleepContext,
			now:         time.Now,
		}},
	}
}

// schemeTransport pins requests for the registry host to the configured
// scheme: ggcr otherwise talks plain HTTP to private and loopback addresses
// even when the user configured https://.
type schemeTransport struct {
	host, scheme string
	next         http.RoundTripper
}

func (t *schemeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == t.host && req.URL.Scheme != t.scheme {
		req = req.Clone(req.Context())
		req.URL.Scheme = t.scheme
	}
	return t.next.RoundTrip(req)
}

// successWatch records that the registry accepted the credentials: a
// success on a request that carried them. Requests without them (the /v2/
// ping, open to anyone on some registries) prove nothing about a token.
type successWatch struct {
	next     http.RoundTripper
	answered *atomic.Bool
}

func (t *successWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil && resp.StatusCode < 300 && req.Header.Get("Authorization") != "" {
		t.answered.Store(true)
	}
	return resp, err
}

// noWriteRedirects turns a redirect answered to anything but GET or HEAD
// into an error. Go's http.Client follows 301/302/303 by re-sending the
// request as a GET, whose 200 would then read as "deleted"; and a write
// sent on to another host is not one the user reviewed. Reads may be
// redirected (registries send blob downloads to object storage).
type noWriteRedirects struct{ next http.RoundTripper }

func (t *noWriteRedirects) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || req.Method == http.MethodGet || req.Method == http.MethodHead || resp.StatusCode < 300 || resp.StatusCode > 399 {
		return resp, err
	}
	drain(resp)
	return nil, &RedirectError{Method: req.Method, Status: resp.Status, Location: resp.Header.Get("Location")}
}

// RedirectError is a write the registry answered with a redirect, which
// is never followed: nothing was written or deleted.
type RedirectError struct {
	Method, Status, Location string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("the registry answered %s to a %s, redirecting to %q; redirects are never followed for writes, so nothing was changed: "+
		"set url to the registry itself (the address it serves the API on, without a redirecting proxy)", e.Status, e.Method, e.Location)
}

// retryableStatus are answers that mean "try again later", not "no".
var retryableStatus = map[int]bool{
	http.StatusTooManyRequests:     true,
	http.StatusInternalServerError: true,
	http.StatusBadGateway:          true,
	http.StatusServiceUnavailable:  true,
	http.StatusGatewayTimeout:      true,
}

const (
	baseBackoff   = 250 * time.Millisecond
	maxBackoff    = 10 * time.Second
	maxRetryAfter = 60 * time.Second
)

// retryTransport retries a request with jittered exponential backoff (or
// as Retry-After says) until it succeeds, fails for good, or its budget is
// spent: maxElapsed of waiting and trying, which rides out a registry
// restart, and maxAttempts tries when set.
type retryTransport struct {
	next        http.RoundTripper
	maxAttempts int           // 0: no limit but maxElapsed
	maxElapsed  time.Duration // from the first try to the start of the last
	timeout     time.Duration // per attempt, including reading the body
	sleep       func(context.Context, time.Duration) error
	now         func() time.Time
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := t.now()
	observe, _ := req.Context().Value(attemptsKey{}).(func(*http.Request, *http.Response, error))
	for attempt := 1; ; attempt++ {
		resp, err := t.attempt(req)
		if observe != nil {
			observe(req, resp, err)
		}
		if !t.canReplay(req) || !shouldRetry(req.Context(), resp, err) {
			return resp, err
		}
		left := t.maxElapsed - t.now().Sub(start)
		if (t.maxAttempts > 0 && attempt >= t.maxAttempts) || left <= 0 {
			return resp, err
		}
		if resp != nil {
			drain(resp)
		}
		// The last try comes when the budget ends, not a backoff earlier:
		// retry_max_elapsed is how long a registry may be away.
		if err := t.sleep(req.Context(), min(backoff(attempt, resp), left)); err != nil {
			return nil, err
		}
	}
}

// attemptsKey holds a function that sees how each try of a request ended
// (observeAttempts).
type attemptsKey struct{}

// observeAttempts has every try of the requests made with ctx reported to
// f, the retries included: a caller that must know whether an earlier try
// may have been carried out (deleteTracked) cannot tell from the last
// answer alone.
func observeAttempts(ctx context.Context, f func(*http.Request, *http.Response, error)) context.Context {
	return context.WithValue(ctx, attemptsKey{}, f)
}

// attempt runs one try with its own deadline; the deadline is released when
// the caller closes the body, so slow bodies are bounded too.
func (t *retryTransport) attempt(req *http.Request) (*http.Response, error) {
	try := req.Clone(req.Context())
	if req.Body != nil && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		try.Body = body
	}
	ctx, cancel := req.Context(), context.CancelFunc(func() {})
	if t.timeout > 0 {
		ctx, cancel = context.WithTimeout(req.Context(), t.timeout)
	}
	resp, err := t.next.RoundTrip(try.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &onClose{ReadCloser: resp.Body, release: cancel}
	if req.Method != http.MethodGet || req.Header.Get("Range") != "" {
		return resp, nil // a range read is a probe: its caller reads what came (restore.go)
	}
	if err := readAhead(resp); err != nil {
		return nil, &cutAnswerError{URL: req.URL.Redacted(), Err: err}
	}
	return resp, nil
}

// maxReadAhead covers every answer the API gives as JSON: manifests
// (distribution caps them at 4 MiB), tag and catalog pages, config blobs.
const maxReadAhead = 8 << 20

// readAhead reads a GET's body within its attempt, so that a connection
// cut mid-body (a registry restarting, a proxy dropping it) is retried like
// one cut before the headers, instead of surfacing as a truncated JSON
// document. A body larger than maxReadAhead streams on from what was read.
func readAhead(resp *http.Response) error {
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxReadAhead+1))
	if err != nil {
		_ = resp.Body.Close()
		return err
	}
	if len(head) <= maxReadAhead {
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(head))
		return nil
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return nil
}

// cutAnswerError is an answer whose body broke off: the connection closed
// or reset, or the attempt timed out, while it was being read.
type cutAnswerError struct {
	URL string
	Err error
}

func (e *cutAnswerError) Error() string {
	return fmt.Sprintf("reading the answer to GET %s: %v", e.URL, e.Err)
}
func (e *cutAnswerError) Unwrap() error { return e.Err }

// canReplay: a request whose body cannot be produced again is tried once.
func (t *retryTransport) canReplay(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func shouldRetry(ctx context.Context, resp *http.Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		// Connection resets, refused dials, per-attempt timeouts: all transient.
		return !errors.Is(err, context.Canceled) && !isCertificateError(err) && !isUnknownHost(err)
	}
	return retryableStatus[resp.StatusCode]
}

// backoff honours Retry-After (seconds or HTTP date) and otherwise grows
// exponentially with jitter.
func backoff(attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return d
		}
	}
	d := baseBackoff << (attempt - 1)
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func retryAfter(value string, now time.Time) (time.Duration, bool) {
	if value == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.Atoi(value); err == nil {
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(value); err == nil {
		d = at.Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, 0), maxRetryAfter), true
}

func sleepContext(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// limitTransport bounds the requests in flight, counting a request as in
// flight until its body is closed or read to the end.
type limitTransport struct {
	next  http.RoundTripper
	slots chan struct{}
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case t.slots <- struct{}{}:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	release := func() { <-t.slots }
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &onClose{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// onClose runs release once, at EOF or Close, whichever comes first.
type onClose struct {
	io.ReadCloser
	release func()
	once    sync.Once
}

func (b *onClose) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(b.release)
	}
	return n, err
}

func (b *onClose) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// isUnknownHost tells a registry name that does not resolve: a typo in
// url, which waiting does not fix.
func isUnknownHost(err error) bool {
	var dns *net.DNSError
	return errors.As(err, &dns) && dns.IsNotFound
}
