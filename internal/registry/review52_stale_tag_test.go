package registry

// Regression test of review 52 (fixed: a refused put-back is a loss unless the credentials may not push and a tag names the manifest); failed before the fix.

// Review 52: a refused put-back "unless a listed tag names the manifest"
// (239ab13, repair.go restore: err != nil && there &&
// v.stayingTagOn(digest, nil)).
//
// TestReview52RefusedPutBackTrustedToATagResolvedFromTheStaleCache
// (reported): review 51's fix no longer trusts putBack's HEAD alone when
// the registry refuses the PUT: a refused write is a loss "unless a listed
// tag names the manifest". But the view learns which manifest a tag names
// from the same registry answer: resolving a tag is a HEAD by tag, which
// distribution serves by reading the tag's link and then the manifest's
// descriptor from the same blob descriptor cache that review 45 and 51
// showed stale. The race: a new tag "new" is pushed onto pr-1's image X
// as the registry handles the apply's DELETE of X: a PUT onto X lands
// after the DELETE cleared the cache and before it removes the revision
// link (caching X's descriptor again), and the new tag's link is written
// after the DELETE's untagging (the push's tag link landing late, as
// testregistry.DanglingTag and review 50's linkTag50 write it). "new" is
// listed, its link names X, X's revision link is gone, and the cache
// answers for X: verification resolves "new" to X (not dangling, so
// repairDangling is not asked), restoreNeeded puts back X, which "new"
// needs: putBack's HEAD answers 200 from the cache, the PUT is refused
// (a 500 here, retries exhausted), and restore finds the view's tag "new"
// on X: a warning ("the registry answers that it is there ... and
// tagged"), not a loss. The apply succeeds; X is not in the registry's
// storage (a fresh registry process over the same storage: "new" resolves
// to nothing). The Safety guide: "A restore that fails ... is a loss and
// fails the apply, naming it, also when the registry answers that the
// manifest is there, unless a tag it lists now names it (the answer alone
// may come from the cache of what was deleted)": the tag's answer comes
// from that cache too. Distribution v3 over its filesystem driver, hooked
// as in review 45 (startHooked45).
//
// Reproduce: REVIEW52_UNSKIP=1 go test -count=1 -run TestReview52RefusedPutBackTrustedToATagResolvedFromTheStaleCache ./internal/registry/

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview52RefusedPutBackTrustedToATagResolvedFromTheStaleCache(t *testing.T) {
	dir := t.TempDir()
	var reg *testregistry.Registry
	var xHex string
	var once sync.Once
	reg = startHooked45(t, dir, func(path string) {
		if xHex != "" && strings.Contains(path, "/_manifests/revisions/sha256/"+xHex) {
			once.Do(func() { // the link not yet deleted, the cache already cleared: a push onto X caches it again
				if err := reg.Tag("app", mustHash(t, "sha256:"+xHex), "warm"); err != nil {
					t.Error(err)
				}
			})
		}
	})
	x, err := reg.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage("app", time.Time{}, "stable"); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 1})
	batch := planPolicy(t, c, "app", "^pr-")
	xHex = strings.TrimPrefix(x.Digest.String(), "sha256:")
	var deleted sync.Once
	raced := false
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+x.Digest.String()):
			w.WriteHeader(http.StatusInternalServerError) // the write that would bring X back is refused
			return true
		case r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/manifests/"+x.Digest.String()):
			handled := false
			deleted.Do(func() {
				handled, raced = true, true
				req, _ := http.NewRequest(http.MethodDelete, reg.URL+r.URL.Path, nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				linkTag52(t, dir, "app", "new", x.Digest.String()) // the push's tag link, landing after the DELETE's untagging
				w.WriteHeader(resp.StatusCode)
			})
			return handled
		}
		return false
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q", err, report.Restored, report.Lost, report.Warnings)
	if !raced {
		t.Fatal("X's DELETE was not sent; the race did not run")
	}
	if err != nil || len(report.Lost) > 0 {
		return // the refused write is reported
	}
	restarted := testregistry.Start(t, testregistry.WithRootDir(dir)) // the same storage, a fresh process's cache
	stored, err := restarted.ManifestExists("app", x.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !stored {
		t.Fatalf("apply succeeded with nothing lost, but X %s (tag new, pushed during the apply) is not in the registry's storage", x.Digest)
	}
}

// linkTag52 writes tag into the filesystem storage under root pointing at
// digest, as a push of the tag onto digest leaves it when it races the
// DELETE of digest (linkTag50, for a registry whose storage root is not
// its RootDir).
func linkTag52(t *testing.T, root, repo, tag, digest string) {
	t.Helper()
	dir := filepath.Join(root, "docker/registry/v2/repositories", repo, "_manifests/tags", tag)
	hex := strings.TrimPrefix(digest, "sha256:")
	for _, p := range []string{filepath.Join(dir, "current/link"), filepath.Join(dir, "index/sha256", hex, "link")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(digest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
