package registry

// Review 51: a DELETE slower than request_timeout (deleteJournaled's
// retry, verify against a registry still carrying out the first try).
//
// TestReview51SlowDeleteUndoesTheRepair (held, 3 s): distribution
// handles DELETE /v2/<name>/manifests/<digest> in three steps: it
// deletes the revision link, then looks up every tag of the repository
// for those pointing at the digest (a read per tag: on object storage and
// a repository of thousands of tags, it can outlast request_timeout), then
// untags them. The attack: the apply's DELETE of pr-1's image X outlasts
// request_timeout (500 ms against a 2 s lookup); the transport retries,
// the retry finds X gone ("an earlier attempt deleted it"), and the chunk
// is done while the registry is still in the first try's lookup. "stable"
// (kept) was moved onto X in the registry API's window just before that
// DELETE: verification sees it listed and dangling, and repairs it (X put
// back, "restored ... with tag stable"). Would the first try then untag
// stable after the apply reported it repaired? No: the client gave up on
// the first try, its connection closed, and distribution's handler, its
// request context cancelled, stops in the lookup and untags nothing;
// stable stays on X. Distribution v3 over its filesystem driver, wrapped
// to make the lookup after the revision link's deletion slow.

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// slow51 is the filesystem driver, with a hook run after each Delete.
type slow51 struct {
	storagedriver.StorageDriver
	after func(path string)
}

func (d *slow51) Delete(ctx context.Context, path string) error {
	err := d.StorageDriver.Delete(ctx, path)
	if err == nil && d.after != nil {
		d.after(path)
	}
	return err
}

type slow51Factory struct{}

var (
	hooks51      sync.Map // id -> func(path string)
	registered51 sync.Once
)

func (slow51Factory) Create(_ context.Context, params map[string]any) (storagedriver.StorageDriver, error) {
	d, err := filesystem.FromParameters(map[string]any{"rootdirectory": params["rootdirectory"]})
	if err != nil {
		return nil, err
	}
	h, _ := hooks51.Load(params["hook"])
	after, _ := h.(func(string))
	return &slow51{StorageDriver: d, after: after}, nil
}

// startAfterDelete51 starts distribution v3 over filesystem storage in
// dir, calling after once each storage Delete succeeded.
func startAfterDelete51(t *testing.T, dir string, after func(path string)) *testregistry.Registry {
	t.Helper()
	registered51.Do(func() { factory.Register("review51slow", slow51Factory{}) })
	hooks51.Store(t.Name(), after)
	return testregistry.Start(t, testregistry.WithStorage("review51slow", map[string]any{"rootdirectory": dir, "hook": t.Name()}))
}

func TestReview51SlowDeleteUndoesTheRepair(t *testing.T) {
	const lookup = 2 * time.Second
	var xHex atomic.Value
	xHex.Store("")
	var slowOnce sync.Once
	done := make(chan struct{})
	reg := startAfterDelete51(t, t.TempDir(), func(path string) {
		if x := xHex.Load().(string); x != "" && strings.Contains(path, "/_manifests/revisions/sha256/"+x) {
			slowOnce.Do(func() { // the lookup of every tag, after the revision link went
				time.Sleep(lookup)
				time.AfterFunc(500*time.Millisecond, func() { close(done) }) // its untags done by then
			})
		}
	})
	const repo = "review51/slow-delete"
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	x, err := reg.PushImage(repo, created, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := reg.PushImage(repo, created, "stable")
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, RequestTimeout: 500 * time.Millisecond})
	batch := planBatch(t, c, repo, deletePR())
	if len(batch.Manifests) != 1 {
		t.Fatalf("planned %+v; want pr-1's image", batch.Manifests)
	}
	xHex.Store(strings.TrimPrefix(x.Digest.String(), "sha256:"))
	onFirstDeleteOf(proxy, x.Digest.String(), func() { // the registry API's window: stable moved onto X
		if err := reg.Tag(repo, x.Digest, "stable"); err != nil {
			t.Error(err)
		}
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Deleted)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow DELETE did not run")
	}
	if err != nil || len(report.Lost) > 0 {
		return // reported, not silent
	}
	if got := resolvesTo(t, reg, repo, "stable"); got != s.Digest.String() && got != x.Digest.String() {
		listed, _ := reg.Tags(repo)
		t.Fatalf("apply succeeded, nothing lost; after the first DELETE finished, stable resolves to %s (want %s or %s; listed: %q)", got, s.Digest, x.Digest, listed)
	}
}
