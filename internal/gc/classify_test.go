package gc

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
)

// storeWithManifest writes a store in distribution's layout where
// repository "legacy" tags body as "v1" and links two layer blobs, plus an
// unreferenced blob: a run must delete that one and only that one.
func storeWithManifest(t *testing.T, body func(layers []digest.Digest) []byte) (*inmemory.Driver, digest.Digest, []digest.Digest, digest.Digest) {
	t.Helper()
	drv := inmemory.New()
	layers := []digest.Digest{digest.FromString("layer one"), digest.FromString("layer two")}
	manifest := body(layers)
	dg := digest.FromBytes(manifest)
	garbage := []byte("nothing references this")
	files := map[string][]byte{
		blobPath(dg) + "/data":                                       manifest,
		revisionPath("legacy", dg) + "/link":                         []byte(dg),
		repositoriesRoot + "/legacy/_manifests/tags/v1/current/link": []byte(dg),
		tagIndexEntryPath("legacy", "v1", dg) + "/link":              []byte(dg),
		blobPath(digest.FromBytes(garbage)) + "/data":                garbage,
	}
	for i, l := range layers {
		files[blobPath(l)+"/data"] = []byte([]string{"layer one", "layer two"}[i])
		files[layerLinkPath("legacy", l)] = []byte(l)
	}
	for p, content := range files {
		if err := drv.PutContent(context.Background(), p, content); err != nil {
			t.Fatal(err)
		}
	}
	return drv, dg, layers, digest.FromBytes(garbage)
}

func schema1(mediaType string) func([]digest.Digest) []byte {
	return func(layers []digest.Digest) []byte {
		return fmt.Appendf(nil, `{"schemaVersion":1,"mediaType":%q,"name":"legacy","tag":"v1","architecture":"amd64",
"fsLayers":[{"blobSum":%q},{"blobSum":%q}],"history":[{"v1Compatibility":"{}"},{"v1Compatibility":"{}"}],
"signatures":[{"header":{"alg":"ES256"},"signature":"x","protected":"y"}]}`, mediaType, layers[0], layers[1])
	}
}

func blobExists(t *testing.T, drv *inmemory.Driver, dg digest.Digest) bool {
	t.Helper()
	_, err := drv.Stat(context.Background(), blobPath(dg)+"/data")
	return err == nil
}

// A tagged schema1 manifest keeps its layers, with and without
// delete_untagged; the reference GC would stop on it instead.
func TestSchema1LayersAreMarked(t *testing.T) {
	for _, mediaType := range []string{"", mediaTypeSchema1, mediaTypeSchema1Signed} {
		for _, untagged := range []bool{false, true} {
			t.Run(fmt.Sprintf("%q/delete_untagged=%v", mediaType, untagged), func(t *testing.T) {
				drv, manifest, layers, garbage := storeWithManifest(t, schema1(mediaType))
				report, err := Run(context.Background(), drv, Options{DeleteUntagged: untagged})
				if err != nil {
					t.Fatal(err)
				}
				for _, dg := range append(layers, manifest) {
					if !blobExists(t, drv, dg) {
						t.Errorf("blob %s of the tagged schema1 manifest was swept", dg)
					}
				}
				if blobExists(t, drv, garbage) || report.BlobsDeleted != 1 {
					t.Errorf("the unreferenced blob was not the one deleted: report %+v", report)
				}
			})
		}
	}
}

// A manifest body GC cannot classify stops the run before the sweep: it
// deletes nothing, and the error names the repository, the digest and the
// storage path.
func TestUnclassifiableManifestStopsBeforeTheSweep(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":               "this is not a manifest",
		"truncated":              `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:`,
		"unknown media type":     `{"schemaVersion":2,"mediaType":"application/vnd.example.thing+json","layers":[]}`,
		"unknown version":        `{"schemaVersion":3,"layers":[]}`,
		"no schema version":      `{"layers":[]}`,
		"schema1 with no layers": `{"schemaVersion":1,"name":"legacy","tag":"v1"}`,
	} {
		t.Run(name, func(t *testing.T) {
			drv, manifest, layers, garbage := storeWithManifest(t, func([]digest.Digest) []byte { return []byte(body) })
			_, err := Run(context.Background(), drv, Options{DeleteUntagged: true})
			want := regexp.QuoteMeta("stopped before deleting anything: manifest "+manifest.String()+" in repository legacy (stored at "+blobPath(manifest)+"/data)") + ".*"
			if err == nil || !regexp.MustCompile(want).MatchString(err.Error()) {
				t.Fatalf("error %v; want one matching %s", err, want)
			}
			for _, dg := range append(layers, manifest, garbage) {
				if !blobExists(t, drv, dg) {
					t.Errorf("blob %s was deleted by a run that stopped", dg)
				}
			}
		})
	}
}
