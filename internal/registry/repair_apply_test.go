package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Regression tests from an adversarial review of the repairing apply, each
// on distribution v3 and 2.8.

func onBothRegistries(t *testing.T, test func(t *testing.T, reg *testregistry.Registry)) {
	t.Run("distribution-v3", func(t *testing.T) { test(t, testregistry.Start(t)) })
	t.Run("distribution-2.8", func(t *testing.T) { test(t, testregistry.StartV28(t)) })
}

func resolvesTo(t *testing.T, reg *testregistry.Registry, repo, tag string) string {
	t.Helper()
	m, err := newClient(t, Config{URL: reg.URL}).Resolve(context.Background(), repo, tag)
	if err != nil {
		return "error: " + err.Error()
	}
	return m.Digest
}

// A chunk whose DELETE fails still verifies before the apply returns its
// error: "stable", moved onto a planned digest in the window and taken by
// its DELETE, comes back.
func TestApplyVerifiesAfterAFailedChunk(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		x, _ := reg.PushImage("app", time.Time{}, "pr-1")
		y, _ := reg.PushImage("app", time.Time{}, "pr-2")
		stable, _ := reg.PushImage("app", time.Time{}, "stable")
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 1})
		batch := planPolicy(t, c, "app", "^pr-")
		xDone := make(chan struct{})
		var once sync.Once
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.Method != http.MethodDelete:
			case strings.HasSuffix(r.URL.Path, x.Digest.String()):
				once.Do(func() {
					if err := reg.Tag("app", x.Digest, "stable"); err != nil {
						t.Error(err)
					}
					time.AfterFunc(200*time.Millisecond, func() { close(xDone) })
				})
			case strings.HasSuffix(r.URL.Path, y.Digest.String()):
				<-xDone
				w.WriteHeader(http.StatusInternalServerError)
				return true
			}
			return false
		})
		if _, err := c.ExecuteBatches(context.Background(), []Batch{batch}); err == nil {
			t.Fatal("the apply succeeded; want the refused DELETE's error")
		}
		if got := resolvesTo(t, reg, "app", "stable"); got != stable.Digest.String() {
			t.Errorf("stable resolves to %s; want it back on %s", got, stable.Digest)
		}
	})
}

// An image restored because an index pushed in the window lists it comes
// back with its signature and the signature's tag.
func TestApplyRestoresAnImageWithItsSignature(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		x, _ := reg.PushImage("app", time.Time{}, "pr-1")
		sig, err := reg.PushReferrer("app", x.Digest, "sig")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		batch := planPolicy(t, c, "app", "^pr-")
		onFirstDeleteOf(proxy, x.Digest.String(), func() {
			if _, err := reg.PushIndexOf("app", []v1.Hash{x.Digest}, "release"); err != nil {
				t.Error(err)
			}
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, "app", true, x.Digest, sig)
		sigTag := strings.Replace(x.Digest.String(), ":", "-", 1) + ".sig"
		if got := resolvesTo(t, reg, "app", sigTag); got != sig.String() {
			t.Errorf("%s resolves to %s; want %s (restored: %q)", sigTag, got, sig, report.Restored)
		}
	})
}

// Nested indexes come back children first, whatever their digests' order:
// a registry refuses an index whose children are missing.
func TestApplyRestoresNestedIndexesChildrenFirst(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		for i := range 4 { // digests are random: both orders turn up
			repo := fmt.Sprintf("app%d", i)
			a, _ := reg.PushImage(repo, time.Time{})
			b, _ := reg.PushImage(repo, time.Time{})
			inner, err := reg.PushIndexOf(repo, []v1.Hash{a.Digest, b.Digest})
			if err != nil {
				t.Fatal(err)
			}
			outer, err := reg.PushIndexOf(repo, []v1.Hash{inner}, "pr-1")
			if err != nil {
				t.Fatal(err)
			}
			proxy := newFaultProxy(t, reg.URL)
			c := newClient(t, Config{URL: proxy.URL})
			batch := planPolicy(t, c, repo, "^pr-")
			var release v1.Hash
			onFirstDeleteOf(proxy, outer.String(), func() {
				if release, err = reg.PushIndexOf(repo, []v1.Hash{outer}, "release"); err != nil {
					t.Error(err)
				}
			})
			report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
			if err != nil || len(report.Lost) > 0 {
				t.Fatalf("%s: err %v, lost %q", repo, err, report.Lost)
			}
			mustExist(t, reg, repo, true, release, outer, inner)
		}
	})
}

// A tag that appears during a chunk and resolves to nothing is looked for
// among that chunk's deletions once, not among every deletion after every
// chunk (which made an apply quadratic).
func TestApplyLooksForADanglingTagOnce(t *testing.T) {
	reg := testregistry.Start(t)
	for i := range 40 {
		if _, err := reg.PushImage("app", time.Time{}, fmt.Sprintf("pr-%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1, RetryMaxAttempts: 1})
	batch := planPolicy(t, c, "app", "^pr-") // 40 items: chunks of 16
	var ghost atomic.Bool
	var puts atomic.Int64
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/app/manifests/") { // not the journal's
			puts.Add(1)
		}
		if r.Method == http.MethodDelete {
			ghost.Store(true)
		}
		if !ghost.Load() {
			return false
		}
		if strings.HasSuffix(r.URL.Path, "/manifests/ghost") { // listed, resolving to nothing
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`))
			return true
		}
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/tags/list") {
			resp, err := http.Get(reg.URL + r.URL.Path + "?" + r.URL.RawQuery)
			if err != nil {
				t.Error(err)
				return false
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var l struct {
				Name string   `json:"name"`
				Tags []string `json:"tags"`
			}
			_ = json.Unmarshal(body, &l)
			l.Tags = append(l.Tags, "ghost")
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(l)
			return true
		}
		return false
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	if err != nil || report.Deleted != 40 {
		t.Fatalf("report %+v, err %v; want 40 deleted", report, err)
	}
	if n := puts.Load(); n > chunkPerSlot {
		t.Errorf("%d manifest PUTs; want at most one chunk's (%d)", n, chunkPerSlot)
	}
}

// A planned untag whose tag moved onto another image after the view (not
// re-read in a repository of many tags) is not removed from that image: the
// registry removes a tag by name wherever it points, so the apply resolves
// it right before.
func TestApplyResolvesATagRightBeforeRemovingIt(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		if _, err := reg.PushImage("app", time.Time{}, "pr-00", "keep-shared"); err != nil {
			t.Fatal(err)
		}
		for i := 1; i < 17; i++ { // deleted by digest in the first chunk; the untag comes after
			if _, err := reg.PushImage("app", time.Time{}, fmt.Sprintf("pr-%02d", i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 17 { // many tags stay: none is resolved again before a chunk
			if _, err := reg.PushImage("app", time.Time{}, fmt.Sprintf("keep-%02d", i)); err != nil {
				t.Fatal(err)
			}
		}
		n, _ := reg.PushImage("app", time.Time{})
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch := planPolicy(t, c, "app", "^pr-")
		var once sync.Once
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodDelete {
				once.Do(func() {
					if err := reg.Tag("app", n.Digest, "pr-00"); err != nil {
						t.Error(err)
					}
				})
			}
			return false
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		if got := resolvesTo(t, reg, "app", "pr-00"); got != n.Digest.String() {
			t.Errorf("pr-00 resolves to %s; want it left on %s, where it moved", got, n.Digest)
		}
		skippedLike(t, report, `kept tag app:pr-00: it moved from`)
	})
}

// A planned manifest someone else deleted first is not counted as deleted.
func TestApplyCountsOnlyWhatItDeleted(t *testing.T) {
	reg := testregistry.Start(t)
	x, _ := reg.PushImage("app", time.Time{}, "pr-1")
	if _, err := reg.PushImage("app", time.Time{}, "stable"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	batch := planPolicy(t, c, "app", "^pr-")
	if err := c.DeleteManifest(context.Background(), "app", x.Digest.String()); err != nil {
		t.Fatal(err)
	}
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	if err != nil || report.Deleted != 0 {
		t.Fatalf("report %+v, err %v; want nothing counted", report, err)
	}
}

// onFirstDeleteOf runs act once, when the first DELETE of digest reaches
// the proxy, before the registry handles it: a race inside the registry
// API's window.
func onFirstDeleteOf(proxy *faultProxy, digest string, act func()) {
	var once sync.Once
	proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, digest) {
			once.Do(act)
		}
		return false
	})
}
