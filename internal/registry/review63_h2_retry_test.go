package registry

// Regression test of review 63 (fixed: a try with more than one write (net/http sending a DELETE again by itself over HTTP/2) counts as one that may have been carried out); failed before the fix.
//
// Review 63: a DELETE carried out on its first HTTP/2 try, whose stream the
// server (or a proxy in front of it) then resets with PROTOCOL_ERROR, is
// reported as "someone else was first": not counted as deleted, not in
// Performed (replicas do not follow it), though this apply deleted it.
//
// What is wrong: deleteTracked (delete.go) tells the tries of a DELETE
// apart through the retry transport's per-try observer, which sits above
// net/http's Transport. Over TLS the provider speaks HTTP/2
// (http.DefaultTransport's clone, ForceAttemptHTTP2), and net/http's HTTP/2
// transport retries a bodiless request by itself after RST_STREAM
// PROTOCOL_ERROR from the peer (h2_bundle.go http2canRetryError,
// golang/go#47635), after GOAWAY, or REFUSED_STREAM. Those retries are
// invisible to the observer: it sees one try, written, answered 404, so
// earlierUnknown stays false and deleteJournaled takes the "someone else
// was first" branch: no confirm, report.Deleted and Performed leave out a
// manifest this very apply deleted.
//
// Why it matters: "state and summaries say what happened" and "replicas
// follow their primary" (retention.FollowPrimary reads Performed): the
// primary lost the image, the replica keeps it, and the apply's
// deletions/summary under-report.
//
// Suggested fix: count the tries at the net/http level too (httptrace
// WroteRequest fires once per h2 try: count the calls, and treat more than
// one written try per observed attempt as an earlier unknown outcome), or
// give DELETE requests no transparent retry (a Body that is not NoBody and
// no GetBody makes http2shouldRetryRequest refuse, except for
// errClientConnUnusable).
//
// Reproduce: go test -count=1 -run TestReview63H2ResetDeleteNotCounted ./internal/registry
// (distribution v3 in process, and 2.8: an HTTP/2 TLS front end in the test.)

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// h2Front is a minimal HTTP/2 (TLS) front end forwarding every request to
// backend; fault, when it returns true for a request, forwards it and then
// resets its stream with PROTOCOL_ERROR instead of answering.
type h2Front struct {
	URL     string
	backend string
	fault   func(method, path string) bool
	ln      net.Listener
	wg      sync.WaitGroup
}

func newH2Front(t *testing.T, backend string, fault func(method, path string) bool) *h2Front {
	t.Helper()
	s := httptest.NewUnstartedServer(nil)
	s.StartTLS()
	certs := s.TLS.Certificates
	s.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: certs, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	f := &h2Front{URL: "https://" + ln.Addr().String(), backend: backend, fault: fault, ln: ln}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() { defer f.wg.Done(); defer conn.Close(); f.serve(conn) }()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return f
}

type h2Stream struct {
	method, path, authority string
	header                  http.Header
	body                    bytes.Buffer
}

func (f *h2Front) serve(conn net.Conn) {
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(conn, preface); err != nil {
		return
	}
	fr := http2.NewFramer(conn, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(65536, nil)
	fr.MaxHeaderListSize = 1 << 20
	if err := fr.WriteSettings(); err != nil {
		return
	}
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	streams := map[uint32]*h2Stream{}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
	handle := func(id uint32, s *h2Stream) error {
		req, err := http.NewRequest(s.method, f.backend+s.path, bytes.NewReader(s.body.Bytes()))
		if err != nil {
			return err
		}
		req.Header = s.header
		req.Host = s.authority
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := client.Do(req)
		if err != nil {
			return fr.WriteRSTStream(id, http2.ErrCodeInternal)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if f.fault != nil && f.fault(s.method, s.path) {
			return fr.WriteRSTStream(id, http2.ErrCodeProtocol)
		}
		hbuf.Reset()
		_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(resp.StatusCode)})
		for k, vs := range resp.Header {
			lk := strings.ToLower(k)
			if lk == "connection" || lk == "transfer-encoding" || lk == "keep-alive" {
				continue
			}
			for _, v := range vs {
				_ = enc.WriteField(hpack.HeaderField{Name: lk, Value: v})
			}
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndHeaders: true, EndStream: len(body) == 0}); err != nil {
			return err
		}
		for len(body) > 0 {
			n := min(len(body), 16384)
			if err := fr.WriteData(id, n == len(body), body[:n]); err != nil {
				return err
			}
			body = body[n:]
		}
		return nil
	}
	for {
		frame, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch fm := frame.(type) {
		case *http2.SettingsFrame:
			if !fm.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !fm.IsAck() {
				_ = fr.WritePing(true, fm.Data)
			}
		case *http2.MetaHeadersFrame:
			s := &h2Stream{header: http.Header{}}
			for _, hf := range fm.Fields {
				switch hf.Name {
				case ":method":
					s.method = hf.Value
				case ":path":
					s.path = hf.Value
				case ":authority":
					s.authority = hf.Value
				default:
					if !strings.HasPrefix(hf.Name, ":") {
						s.header.Add(hf.Name, hf.Value)
					}
				}
			}
			id := fm.StreamID
			if fm.StreamEnded() {
				if handle(id, s) != nil {
					return
				}
			} else {
				streams[id] = s
			}
		case *http2.DataFrame:
			id := fm.StreamID
			s := streams[id]
			if n := len(fm.Data()); n > 0 {
				_ = fr.WriteWindowUpdate(0, uint32(n))
				_ = fr.WriteWindowUpdate(id, uint32(n))
			}
			if s == nil {
				continue
			}
			s.body.Write(fm.Data())
			if fm.StreamEnded() {
				delete(streams, id)
				if handle(id, s) != nil {
					return
				}
			}
		}
	}
}

func TestReview63H2ResetDeleteNotCounted(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review63/h2-reset"
		ctx := context.Background()
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		planned, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		var resets atomic.Int32
		front := newH2Front(t, reg.URL, func(method, path string) bool {
			return method == http.MethodDelete && strings.HasSuffix(path, "/manifests/"+planned.Digest.String()) && resets.Add(1) == 1
		})
		c := newClient(t, Config{URL: front.URL, InsecureSkipVerify: true})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 {
			t.Fatalf("planned %+v; want pr-1's image", batch.Manifests)
		}
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\ndeleted %d\nperformed %+v\nskipped %q\nwarnings %q", err, report.Deleted, report.Performed, report.Skipped, report.Warnings)
		if resets.Load() < 2 {
			t.Fatalf("the DELETE was sent %d time(s) through the front end; want the first reset and net/http's own retry", resets.Load())
		}
		if found, err := reg.ManifestExists(repo, planned.Digest); err != nil || found {
			t.Fatalf("after the apply the registry serves %s: %v, %v; want it deleted (by this apply's first try)", planned.Digest, found, err)
		}
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		if report.Deleted != 1 {
			t.Errorf("report.Deleted = %d; want 1: this apply's first HTTP/2 try deleted %s (the front end forwarded it, then reset the stream, "+
				"and net/http retried it unseen, the retry answered 404)", report.Deleted, planned.Digest)
		}
		if !report.Performed[repo].Digests[planned.Digest.String()] {
			t.Errorf("Performed[%s] = %+v; want %s in it: replicas follow Performed, so they keep the image the primary lost", repo, report.Performed[repo], planned.Digest)
		}
	})
}
