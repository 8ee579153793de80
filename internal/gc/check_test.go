package gc

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
)

// inOnePrefix returns n blob contents whose digests share a prefix
// directory (sha256/ab), not the one of avoid.
func inOnePrefix(label string, n int, avoid digest.Digest) [][]byte {
	var out [][]byte
	for i := 0; len(out) < n; i++ {
		content := fmt.Appendf(nil, "%s %d", label, i)
		dg := digest.FromBytes(content)
		if avoid != "" && prefixOf(dg) == prefixOf(avoid) || len(out) > 0 && prefixOf(dg) != prefixOf(digest.FromBytes(out[0])) {
			continue
		}
		out = append(out, content)
	}
	return out
}

// checkStore is "app" with an image whose config and layers are kept
// blobs: eight in one prefix directory beside an orphan, one in another
// beside an orphan. Orphans are linked as layers only. It returns the
// store, the image, and the blobs kept and deleted.
func checkStore(t *testing.T) (drv *inmemory.Driver, image digest.Digest, kept, orphans [][]byte) {
	t.Helper()
	crowded := inOnePrefix("crowded", wholePrefixShare+1, "")
	pair := inOnePrefix("pair", 2, digest.FromBytes(crowded[0]))
	kept = slices.Concat(crowded[:wholePrefixShare], pair[:1])
	orphans = [][]byte{crowded[wholePrefixShare], pair[1]}
	files := map[string][]byte{}
	var layers []string
	for _, content := range slices.Concat(kept, orphans) {
		dg := digest.FromBytes(content)
		files[blobPath(dg)+"/data"] = content
		files[layerLinkPath("app", dg)] = []byte(dg)
		layers = append(layers, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}`, dg, len(content)))
	}
	manifest := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[%s]}`,
		digest.FromBytes(kept[0]), len(kept[0]), strings.Join(layers[1:len(kept)], ","))
	image = digest.FromBytes(manifest)
	files[blobPath(image)+"/data"] = manifest
	files[revisionPath("app", image)+"/link"] = []byte(image)
	drv = inmemory.New()
	if err := putFiles(context.Background(), drv, files); err != nil {
		t.Fatal(err)
	}
	return drv, image, kept, orphans
}

// The scan lists blob directories by name. Before deleting, a run reads
// the data files of the blobs it deletes, each in its directory, and no
// kept blob's; on S3, where the blobs to delete are an eighth or more of a
// prefix directory, one listing of that directory reads them (and the
// kept blobs' there).
func TestRunReadsOnlyTheBlobsToDelete(t *testing.T) {
	for _, driverName := range []string{"inmemory", "s3aws"} {
		drv, _, kept, orphans := checkStore(t)
		reads := &readRecorder{StorageDriver: drv, name: driverName}
		report, err := Run(context.Background(), reads, Options{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(len(orphans[0]) + len(orphans[1])); report.BlobsDeleted != 2 || report.BytesFreed != want {
			t.Errorf("%s: report = %+v, want 2 blobs, %d bytes", driverName, report, want)
		}
		for _, content := range orphans {
			if p := blobPath(digest.FromBytes(content)) + "/data"; !slices.Contains(reads.paths, p) {
				t.Errorf("%s: the orphan %s was not read", driverName, p)
			}
		}
		var keptRead []string
		for _, content := range kept {
			if p := blobPath(digest.FromBytes(content)) + "/data"; slices.Contains(reads.paths, p) {
				keptRead = append(keptRead, p)
			}
		}
		var want []string
		if driverName == "s3aws" { // the pair's prefix directory is listed whole
			want = []string{blobPath(digest.FromBytes(kept[len(kept)-1])) + "/data"}
		}
		if !slices.Equal(keptRead, want) {
			t.Errorf("%s: read the kept blobs %q, want %q", driverName, keptRead, want)
		}
	}
}

// missingManifest hides a manifest's data file from GetContent, as if it
// were written between the scan's listing and its read of manifests.
type missingManifest struct {
	storagedriver.StorageDriver
	data string
}

func (m missingManifest) GetContent(ctx context.Context, p string) ([]byte, error) {
	if p == m.data {
		return nil, storagedriver.PathNotFoundError{Path: p}
	}
	return m.StorageDriver.GetContent(ctx, p)
}

// A manifest missing when read is no manifest, as for the reference; one
// whose data is there when the blobs to delete are read stops the run
// before anything is deleted: the storage changed under it, and deleting
// its blob would leave its revision link naming nothing.
func TestRunStopsWhenAMissingManifestAppears(t *testing.T) {
	drv, image, _, orphans := checkStore(t)
	_, err := Run(context.Background(), missingManifest{drv, blobPath(image) + "/data"}, Options{})
	if err == nil || !strings.Contains(err.Error(), "the storage changed during the run") {
		t.Fatalf("err = %v, want the storage changed", err)
	}
	for _, p := range []string{blobPath(image) + "/data", path.Join(blobPath(digest.FromBytes(orphans[0])), "data")} {
		if _, err := drv.Stat(context.Background(), p); err != nil {
			t.Errorf("%s was deleted: %v", p, err)
		}
	}
}
