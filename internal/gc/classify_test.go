package gc

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/opencontainers/go-digest"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// legacyStore is a filesystem store, written file by file in
// distribution's layout as registry 2.x leaves it, where repository
// "legacy" tags one manifest as "v1" and links its two layers, next to a
// blob nothing references: a run must delete that one and only that one.
type legacyStore struct {
	root     string
	driver   storagedriver.StorageDriver
	manifest digest.Digest
	layers   []digest.Digest
	garbage  []byte
}

func newLegacyStore(t *testing.T, body func(layers []digest.Digest) []byte) legacyStore {
	t.Helper()
	s := legacyStore{
		root:    t.TempDir(),
		layers:  []digest.Digest{digest.FromString("layer one"), digest.FromString("layer two")},
		garbage: []byte("nothing references this"),
	}
	s.driver = filesystem.New(filesystem.DriverParameters{RootDirectory: s.root, MaxThreads: 100})
	manifest := body(s.layers)
	s.manifest = digest.FromBytes(manifest)
	files := map[string][]byte{
		blobPath(s.manifest) + "/data":                               manifest,
		revisionPath("legacy", s.manifest) + "/link":                 []byte(s.manifest),
		repositoriesRoot + "/legacy/_manifests/tags/v1/current/link": []byte(s.manifest),
		tagIndexEntryPath("legacy", "v1", s.manifest) + "/link":      []byte(s.manifest),
		blobPath(digest.FromBytes(s.garbage)) + "/data":              s.garbage,
	}
	for i, l := range s.layers {
		files[blobPath(l)+"/data"] = []byte([]string{"layer one", "layer two"}[i])
		files[layerLinkPath("legacy", l)] = []byte(l)
	}
	for p, content := range files {
		if err := s.driver.PutContent(context.Background(), p, content); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// files lists every file of the store.
func (s legacyStore) files(t *testing.T) []string {
	t.Helper()
	var out []string
	err := s.driver.Walk(context.Background(), "/", func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() {
			out = append(out, fi.Path())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func (s legacyStore) blobExists(t *testing.T, dg digest.Digest) bool {
	t.Helper()
	_, err := s.driver.Stat(context.Background(), blobPath(dg)+"/data")
	return err == nil
}

// schema1 is a tagged schema1 manifest as registry 2.x stores it: signed
// (prettyjws), layers in fsLayers, mediaType usually absent.
func schema1(mediaType string) func([]digest.Digest) []byte {
	return func(layers []digest.Digest) []byte {
		return fmt.Appendf(nil, `{"schemaVersion":1,"mediaType":%q,"name":"legacy","tag":"v1","architecture":"amd64",
"fsLayers":[{"blobSum":%q},{"blobSum":%q}],"history":[{"v1Compatibility":"{}"},{"v1Compatibility":"{}"}],
"signatures":[{"header":{"alg":"ES256"},"signature":"x","protected":"y"}]}`, mediaType, layers[0], layers[1])
	}
}

// A tagged schema1 manifest keeps its layers, with and without
// delete_untagged; the reference GC would stop on it instead. The report
// counts the one unreferenced blob, which a dry run leaves in place.
func TestSchema1LayersAreMarked(t *testing.T) {
	for _, mediaType := range []string{"", mediaTypeSchema1, mediaTypeSchema1Signed} {
		for _, opts := range []Options{{}, {DeleteUntagged: true}, {DeleteUntagged: true, DryRun: true}} {
			t.Run(fmt.Sprintf("%q/delete_untagged=%v/dry_run=%v", mediaType, opts.DeleteUntagged, opts.DryRun), func(t *testing.T) {
				s := newLegacyStore(t, schema1(mediaType))
				report, err := Run(context.Background(), s.driver, opts)
				if err != nil {
					t.Fatal(err)
				}
				for _, dg := range append(s.layers, s.manifest) {
					if !s.blobExists(t, dg) {
						t.Errorf("blob %s of the tagged schema1 manifest was swept", dg)
					}
				}
				if report.BlobsDeleted != 1 || report.BytesFreed != int64(len(s.garbage)) || report.ManifestsDeleted != 0 || report.LayerLinksDeleted != 0 {
					t.Errorf("report %+v; want the unreferenced blob alone", report)
				}
				if swept := !s.blobExists(t, digest.FromBytes(s.garbage)); swept == opts.DryRun {
					t.Errorf("unreferenced blob swept = %v in a run with %+v", swept, opts)
				}
			})
		}
	}
}

// The reference GC stops on the same store, deleting nothing: keeping
// schema1 layers is a deliberate difference (mark), not an accident the
// equivalence tests would miss if distribution changed its mind.
func TestReferenceStopsOnSchema1(t *testing.T) {
	ref := testregistry.FindReferenceGC(t)
	s := newLegacyStore(t, schema1(""))
	before := s.files(t)
	err := ref.Run(context.Background(), testregistry.FilesystemStorageYAML(s.root), true)
	if err == nil || !strings.Contains(err.Error(), "unrecognized manifest schema version 1") {
		t.Errorf("reference GC on a schema1 store: %v; want it to stop on the schema version", err)
	}
	if after := s.files(t); !slices.Equal(before, after) {
		t.Errorf("the reference deleted %v", slices.DeleteFunc(before, func(p string) bool { return slices.Contains(after, p) }))
	}
}

// A manifest body GC cannot classify stops the run before the sweep: it
// deletes nothing, and the error names the repository, the digest and the
// storage path, and says what to do with that manifest.
func TestUnclassifiableManifestStopsBeforeTheSweep(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":               "this is not a manifest",
		"truncated":              `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:`,
		"unknown media type":     `{"schemaVersion":2,"mediaType":"application/vnd.example.thing+json","layers":[]}`,
		"no recognizable shape":  `{"schemaVersion":2,"layers":[]}`,
		"unknown version":        `{"schemaVersion":3,"layers":[]}`,
		"no schema version":      `{"layers":[]}`,
		"schema1 with no layers": `{"schemaVersion":1,"name":"legacy","tag":"v1"}`,
	} {
		t.Run(name, func(t *testing.T) {
			s := newLegacyStore(t, func([]digest.Digest) []byte { return []byte(body) })
			before := s.files(t)
			_, err := Run(context.Background(), s.driver, Options{DeleteUntagged: true})
			want := regexp.QuoteMeta("stopped before deleting anything: manifest "+s.manifest.String()+
				" in repository legacy (stored at "+blobPath(s.manifest)+"/data in the registry storage)") +
				".*inspect that file.*" + regexp.QuoteMeta("DELETE /v2/legacy/manifests/"+s.manifest.String())
			if err == nil || !regexp.MustCompile(want).MatchString(err.Error()) {
				t.Fatalf("error %v; want one matching %s", err, want)
			}
			if after := s.files(t); !slices.Equal(before, after) {
				t.Errorf("a run that stopped deleted %v", slices.DeleteFunc(before, func(p string) bool { return slices.Contains(after, p) }))
			}
		})
	}
}

// Every manifest kind distribution stores is classified by its media type
// or, for OCI manifests that leave it out, by its shape; artifacts (an OCI
// image manifest with artifactType and a non-image config) are images.
func TestParseManifestKinds(t *testing.T) {
	config, layer, child, subject := d("config"), d("layer"), d("child"), d("subject")
	for name, tc := range map[string]struct {
		body string
		want manifestRefs
	}{
		"docker image": {fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"digest":%q},"layers":[{"digest":%q}]}`,
			mediaTypeDockerImage, config, layer), manifestRefs{references: []digest.Digest{config, layer}}},
		"docker list": {fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"digest":%q}]}`,
			mediaTypeDockerList, child), manifestRefs{references: []digest.Digest{child}}},
		"OCI image without mediaType": {fmt.Sprintf(`{"schemaVersion":2,"config":{"digest":%q},"layers":[{"digest":%q}]}`,
			config, layer), manifestRefs{references: []digest.Digest{config, layer}}},
		"OCI index without mediaType": {fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"digest":%q}]}`,
			child), manifestRefs{references: []digest.Digest{child}}},
		"OCI artifact with subject": {fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q},
"layers":[{"digest":%q}],"subject":{"digest":%q}}`, config, layer, subject), manifestRefs{references: []digest.Digest{config, layer}, subject: subject}},
		"OCI index with subject": {fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
"manifests":[{"digest":%q}],"subject":{"digest":%q}}`, child, subject), manifestRefs{references: []digest.Digest{child}, subject: subject}},
		"schema1 signed": {string(schema1(mediaTypeSchema1Signed)([]digest.Digest{layer, layer})), manifestRefs{references: []digest.Digest{layer, layer}}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := parseManifest([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.references, tc.want.references) || got.subject != tc.want.subject {
				t.Errorf("parseManifest = %+v; want %+v", got, tc.want)
			}
		})
	}
}
