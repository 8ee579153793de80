package registry

// Review 51: an apply interrupted (Terraform's Ctrl-C cancels the
// context) at every request it makes, with a kept tag moved onto the
// first planned image in the registry API's window.
//
// TestReview51InterruptedAtEveryRequest (held): 18 planned images (two
// chunks at max_concurrency 1), "stable" kept and moved onto the first
// image the apply deletes just before its DELETE, and a kept index
// "multi". The context is cancelled as the proxy sees the k-th request
// of the apply, for every k (the apply's requests counted in a first,
// uninterrupted run). After each: stable resolves to its image or to the
// one it was moved onto, and if to its image, the one it was moved onto
// exists (put back untagged); multi and its children exist; an apply
// that returns no error deleted every planned image that was not put
// back. Distribution v3. Held at every k (REVIEW51_FULL=1 runs them all;
// by default a sample of one in nine, about 4 s).

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview51InterruptedAtEveryRequest(t *testing.T) {
	reg := testregistry.Start(t)
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	run := func(t *testing.T, repo string, cancelAt int64) (requests int64) {
		planned, err := reg.SeedTags(repo, chunkPerSlot+2, func(i int) string { return fmt.Sprintf("pr-%02d", i) }, func(int) time.Time { return created })
		if err != nil {
			t.Fatal(err)
		}
		s, err := reg.PushImage(repo, created, "stable")
		if err != nil {
			t.Fatal(err)
		}
		multi, children, err := reg.PushIndex(repo, []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}, created, "multi")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != len(planned) {
			t.Fatalf("planned %d; want %d", len(batch.Manifests), len(planned))
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var count atomic.Int64
		var once sync.Once
		var moved atomic.Value
		moved.Store("")
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			if count.Add(1) == cancelAt {
				cancel()
			}
			if r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/manifests/sha256:") {
				once.Do(func() { // the registry API's window: stable moved onto the first image deleted
					d := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
					if err := reg.Tag(repo, mustHash(t, d), "stable"); err != nil {
						t.Error(err)
					}
					moved.Store(d)
				})
			}
			return false
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		requests = count.Load()
		got := resolvesTo(t, reg, repo, "stable")
		to := moved.Load().(string)
		switch {
		case got == to:
		case got == s.Digest.String():
			if to != "" {
				if ok, _ := reg.ManifestExists(repo, mustHash(t, to)); !ok {
					t.Errorf("cancelled at request %d: stable is back on its image, and %s it was moved onto is gone (apply: %v, restored %q)", cancelAt, to, err, report.Restored)
				}
			}
		default:
			t.Errorf("cancelled at request %d: stable resolves to %s; want %s or %s (apply: %v, lost %q, warnings %q)", cancelAt, got, s.Digest, to, err, report.Lost, report.Warnings)
		}
		for _, d := range append([]v1.Hash{multi}, children...) {
			if ok, _ := reg.ManifestExists(repo, d); !ok {
				t.Errorf("cancelled at request %d: multi's %s is gone (apply: %v)", cancelAt, d, err)
			}
		}
		if err == nil && len(report.Lost) == 0 {
			for _, d := range planned {
				if d.String() == to {
					continue
				}
				if ok, _ := reg.ManifestExists(repo, d); ok && !strings.Contains(strings.Join(report.Restored, "\n"), d.String()) {
					t.Errorf("cancelled at request %d: the apply succeeded, but planned %s is still there, not named put back", cancelAt, d)
				}
			}
		}
		return requests
	}
	total := run(t, "review51/interrupt/full", 0)
	t.Logf("an uninterrupted apply makes %d requests", total)
	stride := int64(9) // a sample, to stay cheap; REVIEW51_FULL=1 tries every request (88 of them: 25 s)
	if os.Getenv("REVIEW51_FULL") != "" {
		stride = 1
	}
	for k := int64(1); k <= total; k += stride {
		run(t, fmt.Sprintf("review51/interrupt/at-%03d", k), k)
	}
}
