package registry

// Review 45: restore's HEAD before PUT (commit 2dce5cd) against
// distribution's blob descriptor cache (storage.cache.blobdescriptor:
// inmemory, as distribution's shipped config.yml and both test
// registries set it).
//
// A manifest DELETE in distribution (linkedBlobStore.Delete ->
// cachedBlobStatter.Clear) clears the repository's cached descriptor
// first, then deletes the revision link in storage. A request for the
// same digest that lands between the two (a PUT of the same manifest -
// the tag moved onto the image in the registry API's window, which is
// what the repair exists for - or a plain GET by digest, a pull) misses
// the cache, finds the link still there, and caches the descriptor again
// (linkedBlobStore.Put: SetDescriptor before linkBlob; Stat: SetDescriptor
// after a backend hit). The link is then deleted: the registry process
// answers HEAD and GET by digest from its cache (200) for a manifest its
// storage no longer has; a restarted process, another instance behind the
// same load balancer, and garbage collection see it deleted.
//
// Before 2dce5cd, restore PUT the journaled bytes unconditionally, which
// writes the link again: such a manifest was truly put back. Now restore
// HEADs first, trusts the 200, puts nothing back, unmarks the digest
// (Performed and Report.Deleted say it was not deleted), and the warning
// names it "put back untagged ... if it had been moved, retag it".
//
// On filesystem storage the window between the cache clear and the link
// delete is microseconds; on S3, GCS or Azure it is a round trip or two.
// The test widens it deterministically: distribution v3 in process over
// its own filesystem driver, wrapped so that the DELETE of one revision
// link first lets a request through (as a slower object store would).
// distribution 2.8 has the same code (cachedBlobStatter.Clear: cache
// first, then backend; reasoned, not run: its storage cannot be wrapped
// from a test).

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// hooked45 is the filesystem driver, with a hook run before each Delete.
type hooked45 struct {
	storagedriver.StorageDriver
	hook func(path string)
}

func (d *hooked45) Delete(ctx context.Context, path string) error {
	if d.hook != nil {
		d.hook(path)
	}
	return d.StorageDriver.Delete(ctx, path)
}

type hooked45Factory struct{}

var (
	hooks45        sync.Map // id -> func(path string)
	registerHooked sync.Once
)

func (hooked45Factory) Create(_ context.Context, params map[string]any) (storagedriver.StorageDriver, error) {
	fs := map[string]any{"rootdirectory": params["rootdirectory"]}
	d, err := filesystem.FromParameters(fs)
	if err != nil {
		return nil, err
	}
	h, _ := hooks45.Load(params["hook"])
	hook, _ := h.(func(string))
	return &hooked45{StorageDriver: d, hook: hook}, nil
}

// startHooked45 starts distribution v3 over filesystem storage in dir,
// calling hook before every storage Delete.
func startHooked45(t *testing.T, dir string, hook func(path string)) *testregistry.Registry {
	t.Helper()
	registerHooked.Do(func() { factory.Register("review45hooked", hooked45Factory{}) })
	hooks45.Store(t.Name(), hook)
	return testregistry.Start(t, testregistry.WithStorage("review45hooked", map[string]any{"rootdirectory": dir, "hook": t.Name()}))
}

// "stable" is moved onto pr-1's image X while the registry handles the
// apply's DELETE of X (the registry API's window): the DELETE takes the
// tag, verification puts stable back where it was and, unable to tell
// where it had been moved, puts back X untagged ("if it had been moved,
// retag it"). The PUT that moved stable left X's descriptor in the
// registry's cache, so restore's HEAD answers 200 and nothing is PUT:
// X's revision link stays deleted. The registry restarted (or any other
// instance over the same storage) does not have X: the put back is false,
// the user who moved stable onto X lost it (and garbage collection frees
// its blobs).
func TestReview45StaleHeadSkipsAPutBack(t *testing.T) {
	// Regression test of review 45 (fixed)
	dir := t.TempDir()
	var reg *testregistry.Registry
	var xHex string
	var once sync.Once
	reg = startHooked45(t, dir, func(path string) {
		if xHex != "" && strings.Contains(path, "/_manifests/revisions/sha256/"+xHex) {
			once.Do(func() { // the link not yet deleted, the cache already cleared
				x := mustHash(t, "sha256:"+xHex)
				if err := reg.Tag("app", x, "stable"); err != nil {
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
	c := newClient(t, Config{URL: reg.URL})
	batch := planPolicy(t, c, "app", "^pr-")
	xHex = strings.TrimPrefix(x.Digest.String(), "sha256:")
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	if err != nil || len(report.Lost) > 0 {
		t.Fatalf("apply: %v, lost %q", err, report.Lost)
	}
	t.Logf("restored %q\nwarnings %q\nperformed %+v", report.Restored, report.Warnings, report.Performed["app"])
	named := strings.Contains(strings.Join(report.Restored, "\n"), x.Digest.String())
	if !named {
		t.Fatalf("the warnings do not name X %s as put back: %q", x.Digest, report.Restored)
	}
	cached, _ := reg.ManifestExists("app", x.Digest)
	restarted := testregistry.Start(t, testregistry.WithRootDir(dir)) // the same storage, a fresh process's cache
	stored, err := restarted.ManifestExists("app", x.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !stored {
		t.Errorf("X %s is named put back, but its storage does not have it (the registry that ran the apply answers exists = %v, from its cache)", x.Digest, cached)
	}
}
