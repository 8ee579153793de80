package registry

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// requestCounts counts what a client asks of the registry: manifest GETs
// and HEADs, and blob (config) reads.
type requestCounts struct{ gets, heads, blobs atomic.Int64 }

func (n *requestCounts) reset() {
	n.gets.Store(0)
	n.heads.Store(0)
	n.blobs.Store(0)
}

// countingProxy puts a proxy counting requests in front of the registry at
// target and returns its URL.
func countingProxy(t *testing.T, target string) (string, *requestCounts) {
	t.Helper()
	proxy := newFaultProxy(t, target)
	n := &requestCounts{}
	proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.Contains(r.URL.Path, "/blobs/"):
			n.blobs.Add(1)
		case strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodGet:
			n.gets.Add(1)
		case strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodHead:
			n.heads.Add(1)
		}
		return false
	})
	return proxy.URL, n
}

// snapshotThrough takes a snapshot with creation times of repo through a
// new client (a new provider run) keeping its cache in cacheDir.
func snapshotThrough(t *testing.T, url, cacheDir, repo string) *Snapshot {
	t.Helper()
	s, err := newClient(t, Config{URL: url, CacheDir: cacheDir, MaxConcurrency: 4}).SnapshotWithCreated(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A second run over the same images reads no config blob: descriptions
// are cached on disk by manifest digest, which names its content forever.
func TestDescriptionsAreCachedAcrossClients(t *testing.T) {
	reg := testregistry.Start(t)
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	if _, err := reg.SeedTags("cached/app", 20, func(i int) string { return fmt.Sprintf("v%d", i) }, func(int) time.Time { return created }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.PushIndex("cached/app", []v1.Platform{{OS: "linux", Architecture: "amd64"}}, created, "multi"); err != nil {
		t.Fatal(err)
	}
	url, n := countingProxy(t, reg.URL)
	cacheDir := t.TempDir()
	describe := func() []Tagged {
		c := newClient(t, Config{URL: url, CacheDir: cacheDir})
		tags, err := c.Tags(context.Background(), "cached/app")
		if err != nil {
			t.Fatal(err)
		}
		described, err := c.DescribeTags(context.Background(), "cached/app", tags)
		if err != nil {
			t.Fatal(err)
		}
		return described
	}
	first := describe()
	if n.blobs.Load() != 21 {
		t.Fatalf("first run read %d config blobs, want 21", n.blobs.Load())
	}
	n.reset()
	second := describe()
	if n.blobs.Load() != 0 {
		t.Fatalf("second run read %d config blobs, want 0", n.blobs.Load())
	}
	for i := range first {
		if !first[i].Created.Equal(second[i].Created) || first[i].Digest != second[i].Digest || len(first[i].Platforms) != len(second[i].Platforms) {
			t.Fatalf("cached description differs: %+v vs %+v", first[i], second[i])
		}
	}
}

// A snapshot with creation times over images already described reads no
// manifest body and no config: a HEAD per tag, as a snapshot without them.
// On a cold cache, as without a disk cache, each tag costs one GET and no
// HEAD.
func TestSnapshotWithCreatedNeedsOnlyHeadsWhenKnown(t *testing.T) {
	reg := testregistry.Start(t)
	created := func(i int) time.Time { return time.Date(2026, 7, 1, i, 0, 0, 0, time.UTC) }
	const tags = 30
	if _, err := reg.SeedTags("known/app", tags, func(i int) string { return fmt.Sprintf("v%d", i) }, created); err != nil {
		t.Fatal(err)
	}
	url, n := countingProxy(t, reg.URL)
	cacheDir := t.TempDir()
	snapshotCached := func(dir string) *Snapshot {
		n.reset()
		return snapshotThrough(t, url, dir, "known/app")
	}
	snapshot := func() *Snapshot { return snapshotCached(cacheDir) }
	snapshotCached("")
	if n.gets.Load() != tags || n.heads.Load() != 0 {
		t.Errorf("without a disk cache: %d GETs, %d HEADs; want %d and none", n.gets.Load(), n.heads.Load(), tags)
	}
	cold := snapshot()
	if n.gets.Load() != tags || n.blobs.Load() != tags || n.heads.Load() != 0 {
		t.Errorf("cold: %d GETs, %d configs, %d HEADs; want %d, %d and none", n.gets.Load(), n.blobs.Load(), n.heads.Load(), tags, tags)
	}
	warm := snapshot()
	if n.gets.Load() != 0 || n.blobs.Load() != 0 || n.heads.Load() != tags {
		t.Errorf("warm: %d GETs, %d configs, %d HEADs; want 0, 0, %d", n.gets.Load(), n.blobs.Load(), n.heads.Load(), tags)
	}
	for tag, m := range cold.Tags {
		if w := warm.Tags[tag]; w.Digest != m.Digest || !w.Created.Equal(m.Created) || m.Created.IsZero() {
			t.Errorf("%s: cold %s %v, warm %s %v", tag, m.Digest, m.Created, w.Digest, w.Created)
		}
	}
	if _, err := reg.PushImage("known/app", created(0), "new"); err != nil {
		t.Fatal(err)
	}
	after := snapshot()
	if after.Tags["new"].Created.IsZero() || n.blobs.Load() != 1 {
		t.Errorf("a new push: created %v, %d configs read; want its created time from 1 config", after.Tags["new"].Created, n.blobs.Load())
	}
}

// A snapshot sees the whole repository: its pack afterwards holds exactly
// the manifests still tagged, so deleted images do not pile up on disk.
func TestSnapshotPackDropsDeletedManifests(t *testing.T) {
	reg := testregistry.Start(t)
	created := func(i int) time.Time { return time.Date(2026, 7, 1, i, 0, 0, 0, time.UTC) }
	digests, err := reg.SeedTags("prune/app", 3, func(i int) string { return fmt.Sprintf("v%d", i) }, created)
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := t.TempDir()
	snapshotThrough(t, reg.URL, cacheDir, "prune/app")
	if err := reg.DeleteManifest("prune/app", digests[0]); err != nil {
		t.Fatal(err)
	}
	snapshotThrough(t, reg.URL, cacheDir, "prune/app")
	known := newClient(t, Config{URL: reg.URL, CacheDir: cacheDir}).packs.of("prune/app")
	if len(known) != 2 || !known[digests[1].String()].Created.Equal(created(1)) {
		t.Fatalf("pack after deleting %s: %+v; want v1 and v2 only", digests[0], known)
	}
	if _, ok := known[digests[0].String()]; ok {
		t.Fatalf("pack still holds the deleted %s", digests[0])
	}
}

// Describing some tags adds to the pack: a data source reading part of a
// repository must not throw away what a snapshot of all of it learned.
func TestDescribeTagsAddsToThePack(t *testing.T) {
	reg := testregistry.Start(t)
	tags := seedTags(t, reg, "part/app", 4)
	cacheDir := t.TempDir()
	for _, part := range [][]string{tags[:2], tags[2:]} {
		if _, err := newClient(t, Config{URL: reg.URL, CacheDir: cacheDir}).DescribeTags(context.Background(), "part/app", part); err != nil {
			t.Fatal(err)
		}
	}
	if known := newClient(t, Config{URL: reg.URL, CacheDir: cacheDir}).packs.of("part/app"); len(known) != 4 {
		t.Fatalf("pack holds %d descriptions after describing 2 + 2 tags, want 4", len(known))
	}
}

// Two registries with a repository of the same name keep a pack each:
// planning against one does not make the other's next plan cold.
func TestPacksOfTwoRegistriesStayApart(t *testing.T) {
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	var urls []string
	var counts []*requestCounts
	for range 2 {
		reg := testregistry.Start(t)
		if _, err := reg.SeedTags("same/app", 5, func(i int) string { return fmt.Sprintf("v%d", i) }, func(int) time.Time { return created }); err != nil {
			t.Fatal(err)
		}
		url, n := countingProxy(t, reg.URL)
		urls, counts = append(urls, url), append(counts, n)
	}
	cacheDir := t.TempDir()
	snapshotThrough(t, urls[0], cacheDir, "same/app")
	snapshotThrough(t, urls[1], cacheDir, "same/app")
	counts[0].reset()
	snapshotThrough(t, urls[0], cacheDir, "same/app")
	if counts[0].gets.Load() != 0 || counts[0].heads.Load() != 5 {
		t.Fatalf("first registry again: %d GETs, %d HEADs; want 0 and 5", counts[0].gets.Load(), counts[0].heads.Load())
	}
}

// A damaged pack is no pack: the snapshot reads everything and writes a
// good one.
func TestDamagedPackIsIgnored(t *testing.T) {
	reg := testregistry.Start(t)
	seedTags(t, reg, "damaged/app", 3)
	url, n := countingProxy(t, reg.URL)
	cacheDir := t.TempDir()
	c := newClient(t, Config{URL: url, CacheDir: cacheDir})
	path, _ := c.packs.cache.path("damaged/app")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{"sha256:`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SnapshotWithCreated(context.Background(), "damaged/app"); err != nil {
		t.Fatal(err)
	}
	if n.gets.Load() != 3 || n.heads.Load() != 0 {
		t.Fatalf("over a damaged pack: %d GETs, %d HEADs; want 3 and none", n.gets.Load(), n.heads.Load())
	}
	if known := newClient(t, Config{URL: url, CacheDir: cacheDir}).packs.of("damaged/app"); len(known) != 3 {
		t.Fatalf("pack rewritten with %d descriptions, want 3", len(known))
	}
}

// An entry filed under another digest than its own is not trusted.
func TestPackEntriesUnderAnotherDigestAreDropped(t *testing.T) {
	cache := diskCache{dir: t.TempDir(), registry: "http://127.0.0.1:5000"}
	good := Manifest{Digest: "sha256:" + strings.Repeat("c", 64)}
	cache.save("app", pack{
		"sha256:" + strings.Repeat("a", 64): {Digest: "sha256:" + strings.Repeat("b", 64)},
		good.Digest:                         good,
	})
	if known := cache.load("app"); len(known) != 1 || known[good.Digest].Digest != good.Digest {
		t.Fatalf("loaded %+v; want only %s", known, good.Digest)
	}
}

// A cache entry that disagrees with what the registry answers for its
// digest (an edited or damaged file) is not used: the image is read again,
// its true created time decides, and the registry's answer replaces the
// entry. An index's children always come from the registry.
func TestEditedCacheEntriesGiveWayToTheRegistry(t *testing.T) {
	reg := testregistry.Start(t)
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	seedTags(t, reg, "edited/app", 3)
	index, _, err := reg.PushIndex("edited/app", []v1.Platform{{OS: "linux", Architecture: "amd64"}}, created, "multi")
	if err != nil {
		t.Fatal(err)
	}
	url, n := countingProxy(t, reg.URL)
	cacheDir := t.TempDir()
	truth := snapshotThrough(t, url, cacheDir, "edited/app")
	c := newClient(t, Config{URL: url, CacheDir: cacheDir})
	known := c.packs.of("edited/app")
	v0 := truth.Tags["t00000"]
	edited := maps.Clone(known)
	forged := edited[v0.Digest]
	forged.Size++
	forged.Created = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // would make it look old
	edited[v0.Digest] = forged
	multi := edited[index.String()]
	multi.Platforms = nil // would leave the index's child unprotected
	edited[index.String()] = multi
	c.packs.cache.save("edited/app", edited)

	n.reset()
	again := snapshotThrough(t, url, cacheDir, "edited/app")
	if got := again.Tags["t00000"]; !got.Created.Equal(v0.Created) || got.Size != v0.Size {
		t.Fatalf("v0 from an edited entry: created %v size %d; the registry says %v, %d", got.Created, got.Size, v0.Created, v0.Size)
	}
	if !slices.Equal(again.Children[index.String()], truth.Children[index.String()]) || len(truth.Children[index.String()]) != 1 {
		t.Fatalf("index children %v, want the registry's %v", again.Children[index.String()], truth.Children[index.String()])
	}
	if n.gets.Load() == 0 {
		t.Fatal("the edited entry was used without reading the image")
	}
	if rewritten := newClient(t, Config{URL: url, CacheDir: cacheDir}).packs.of("edited/app")[v0.Digest]; rewritten.Size != v0.Size {
		t.Fatalf("the cache still holds the edited entry: %+v", rewritten)
	}
}
