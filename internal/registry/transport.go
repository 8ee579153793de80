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
	"strconv"
	"sync"
	"time"
)

// go-containerregistry's own retry transport ignores Retry-After and retries
// with fixed timings, so the client disables it and layers these two
// round-trippers over one pooled *http.Transport instead:
//
//	ggcr auth/paging -> retryTransport -> limitTransport -> http.Transport
//
// Retries sit outside the limiter so that a request waiting out a
// Retry-After does not hold one of the max_concurrency slots.

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
	for attempt := 1; ; attempt++ {
		resp, err := t.attempt(req)
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
