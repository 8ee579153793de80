package gc

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// On the filesystem the sweep unlinks the one file the layout puts in a
// directory, then removes the directory: it deletes exactly the garbage,
// keeps the tagged image, and deletes a blob directory holding a file the
// layout does not account for whole, as the driver's Delete does (the
// scan does not see such files on the filesystem: the deletion finds the
// directory not empty).
func TestFilesystemSweepDeletesKnownFiles(t *testing.T) {
	storage := Storage{Driver: "filesystem", Parameters: map[string]any{"rootdirectory": t.TempDir()}}
	checkSweep(t, storage, 20, func(d storagedriver.StorageDriver) bool { _, ok := d.(knownFileDeleter); return ok })
}

// checkSweep writes sweepStore(orphans) into storage, checks that it opens
// as the storage that deletes its own way (opensAs), collects garbage, and
// checks that exactly the garbage is gone: the orphans and the blob with a
// stray file, each with its layer link.
func checkSweep(t *testing.T, storage Storage, orphans int, opensAs func(storagedriver.StorageDriver) bool) {
	t.Helper()
	ctx := context.Background()
	files, garbage := sweepStore(orphans)
	if err := putFiles(ctx, testregistry.OpenStorage(t, storage.Driver, storage.Parameters), files); err != nil {
		t.Fatal(err)
	}
	d, err := storage.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !opensAs(d) {
		t.Fatalf("the %s storage opened as %T, which does not delete its own way", storage.Driver, d)
	}
	report, err := Run(ctx, d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := orphans + 1; report.BlobsDeleted != want || report.LayerLinksDeleted != want {
		t.Errorf("report = %+v, want %d blobs and layer links deleted", report, want)
	}
	checkSwept(t, d, files, garbage)
}

// checkSwept checks that of files exactly the garbage is gone.
func checkSwept(t *testing.T, d storagedriver.StorageDriver, files map[string][]byte, garbage map[string]bool) {
	t.Helper()
	left := map[string]bool{}
	if err := d.Walk(context.Background(), "/", func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() {
			left[fi.Path()] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var wrong []string
	for p := range files {
		if left[p] == garbage[p] {
			wrong = append(wrong, fmt.Sprintf("%s: left %v, garbage %v", p, left[p], garbage[p]))
		}
	}
	if len(wrong) > 0 {
		slices.Sort(wrong)
		t.Errorf("%d files swept wrong, first: %v", len(wrong), wrong[:min(len(wrong), 5)])
	}
}

// sweepStore is a repository "app" with a tagged image (manifest and
// config) and orphans blobs linked as layers but in no manifest, plus one
// more whose directory holds a stray file: every file, and the garbage.
func sweepStore(orphans int) (files map[string][]byte, garbage map[string]bool) {
	files, garbage = map[string][]byte{}, map[string]bool{}
	add := func(content []byte, isGarbage bool) digest.Digest {
		dg := digest.FromBytes(content)
		for _, p := range []string{blobPath(dg) + "/data", layerLinkPath("app", dg)} {
			files[p] = content
			garbage[p] = isGarbage
		}
		return dg
	}
	config := add([]byte("{}"), false)
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":2},"layers":[]}`, config))
	image := digest.FromBytes(manifest)
	files[blobPath(image)+"/data"] = manifest
	files[revisionPath("app", image)+"/link"] = []byte(image)
	files[repositoriesRoot+"/app/_manifests/tags/latest/current/link"] = []byte(image)
	for i := range orphans {
		add(fmt.Appendf(nil, "orphan %d", i), true)
	}
	stray := add([]byte("orphan with a stray file"), true)
	files[blobPath(stray)+"/stray"] = []byte("not the registry's")
	garbage[blobPath(stray)+"/stray"] = true
	return files, garbage
}

func putFiles(ctx context.Context, d storagedriver.StorageDriver, files map[string][]byte) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, p := range slices.Sorted(maps.Keys(files)) {
		g.Go(func() error { return d.PutContent(ctx, p, files[p]) })
	}
	return g.Wait()
}

// The sweep hands each worker one directory's paths: workers removing
// paths in the same directory would wait on its lock.
func TestDeletionsAreGroupedByParentDirectory(t *testing.T) {
	a1, a2 := deletion{"/blobs/sha256/aa/aa01", "data"}, deletion{"/blobs/sha256/aa/aa02", "data"}
	b1 := deletion{"/blobs/sha256/bb/bb01", "data"}
	link := deletion{"/repositories/app/_layers/sha256/aa01/link", ""}
	got := byParent([]deletion{a1, b1, link, a2})
	want := [][]deletion{{a1, a2}, {b1}, {link}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("groups %v, want %v", got, want)
	}
}
