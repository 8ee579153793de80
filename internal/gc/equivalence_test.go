package gc_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/distreg/terraform-provider-registry/internal/gc"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// scenario is a store with every kind of garbage and every kind of thing
// GC must keep, seeded through a real distribution v3 registry.
type scenario struct {
	// untaggedReferrer is an OCI referrer of a tagged image, pushed by
	// digest: the reference deletes it with --delete-untagged, we keep it.
	untaggedReferrer v1.Hash
	referrerBlobs    []v1.Hash
	// oddKept and oddDeleted are files of addOddFiles that both GCs keep
	// and delete.
	oddKept, oddDeleted []string
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func seedScenario(t *testing.T, reg *testregistry.Registry) scenario {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	push := func(repo string, tags ...string) v1.Hash {
		t.Helper()
		img, err := reg.PushImage(repo, t0, tags...)
		must(err)
		return img.Digest
	}

	deleted := push("app", "v1") // deleted by digest: its blobs are garbage
	release := push("app", "v2", "latest")
	push("app", "main")
	push("app", "main") // moves main: the first image is untagged now
	_, _, err := reg.PushIndex("app", []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}, t0, "multi")
	must(err)
	_, _, err = reg.PushIndex("app", []v1.Platform{{OS: "linux", Architecture: "amd64"}}, t0) // untagged index
	must(err)
	_, err = reg.PushReferrer("app", release, "sig")
	must(err)
	s := scenario{}
	s.untaggedReferrer, err = reg.PushUntaggedReferrer("app", release, "att")
	must(err)
	orphan := push("app") // untagged image, and an untagged referrer of it
	_, err = reg.PushUntaggedReferrer("app", orphan, "att")
	must(err)
	must(reg.DeleteManifest("app", deleted))

	// Layer links: "aaa/copy" is visited before "app" and "zzz" after it;
	// both hold links to blobs only "app" references, which the reference
	// deletes in "aaa/copy" and keeps in "zzz". "app-x" comes before "app"
	// in S3's walk, which lists keys in byte order ('-' sorts before '/'),
	// and after it in the others', depth first: the reference deletes its
	// links on S3 only. Each holds an image of its own: a store copied file
	// by file has no empty _manifests directory to make it a repository.
	for _, r := range []string{"aaa/copy", "zzz", "app-x"} {
		push(r, "own")
		must(copyImage(reg, "app", r, release, "x"))
		must(reg.DeleteManifest(r, release))
	}
	must(copyImage(reg, "app", "base", release, "shared")) // shared blobs stay

	desc, err := remote.Get(mustRef(t, reg, "app", s.untaggedReferrer.String()), reg.RemoteOptions()...)
	must(err)
	m, err := v1.ParseManifest(strings.NewReader(string(desc.Manifest)))
	must(err)
	for _, l := range m.Layers {
		s.referrerBlobs = append(s.referrerBlobs, l.Digest)
	}
	return s
}

func mustRef(t *testing.T, reg *testregistry.Registry, repo, ref string) name.Reference {
	t.Helper()
	sep := ":"
	if strings.Contains(ref, ":") {
		sep = "@"
	}
	r, err := name.ParseReference(reg.Host+"/"+repo+sep+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func copyImage(reg *testregistry.Registry, from, to string, d v1.Hash, tag string) error {
	src, err := name.NewDigest(reg.Host+"/"+from+"@"+d.String(), name.Insecure)
	if err != nil {
		return err
	}
	dst, err := name.NewTag(reg.Host+"/"+to+":"+tag, name.Insecure)
	if err != nil {
		return err
	}
	img, err := remote.Image(src, reg.RemoteOptions()...)
	if err != nil {
		return err
	}
	return remote.Write(dst, img, reg.RemoteOptions()...)
}

// backend is a storage kind the equivalence test runs on. Stores are
// named: a directory on the filesystem, a root directory in the bucket.
type backend struct {
	storage func(store string) gc.Storage
	yaml    func(store string) string                               // config.yml storage section
	serve   func(t *testing.T, store string) *testregistry.Registry // a registry over the store
	// readOnly backends are seeded on the filesystem and copied in: a
	// registry over them cannot write (see fakeGCSBackend).
	readOnly bool
}

func filesystemBackend(t *testing.T) backend {
	base := t.TempDir()
	dir := func(store string) string { return filepath.Join(base, store) }
	return backend{
		storage: func(store string) gc.Storage {
			return gc.Storage{Driver: "filesystem", Parameters: map[string]any{"rootdirectory": dir(store)}}
		},
		yaml: func(store string) string { return testregistry.FilesystemStorageYAML(dir(store)) },
		serve: func(t *testing.T, store string) *testregistry.Registry {
			return testregistry.Start(t, testregistry.WithRootDir(dir(store)))
		},
	}
}

// minioBackend keeps every store in one bucket of a real S3 server.
func minioBackend(t *testing.T) backend {
	m := testregistry.StartMinIO(t)
	const bucket = "registry"
	if err := m.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	return backend{
		storage: func(store string) gc.Storage {
			return gc.Storage{Driver: "s3", Parameters: m.S3Parameters(bucket, "/"+store)}
		},
		yaml: func(store string) string { return "storage:\n" + m.S3ConfigYAML(bucket, "/"+store) },
		serve: func(t *testing.T, store string) *testregistry.Registry {
			return testregistry.Start(t, testregistry.WithStorage("s3", m.S3Parameters(bucket, "/"+store)))
		},
	}
}

// azuriteBackend keeps every store in one container of Azurite, Azure's
// storage emulator.
func azuriteBackend(t *testing.T) backend {
	a := testregistry.StartAzurite(t)
	const container = "registry"
	if err := a.CreateContainer(container); err != nil {
		t.Fatal(err)
	}
	return backend{
		storage: func(store string) gc.Storage {
			return gc.Storage{Driver: "azure", Parameters: a.AzureParameters(container, "/"+store)}
		},
		yaml: func(store string) string { return "storage:\n" + a.AzureConfigYAML(container, "/"+store) },
		serve: func(t *testing.T, store string) *testregistry.Registry {
			return testregistry.Start(t, testregistry.WithStorage("azure", a.AzureParameters(container, "/"+store)))
		},
	}
}

// fakeGCSBackend keeps every store in one bucket of fake-gcs-server. A
// registry reads from it but cannot write: distribution's gcs driver sends
// blob uploads to www.googleapis.com whatever the emulator setting.
func fakeGCSBackend(t *testing.T) backend {
	g := testregistry.StartFakeGCS(t)
	const bucket = "registry"
	if err := g.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	return backend{
		storage: func(store string) gc.Storage {
			return gc.Storage{Driver: "gcs", Parameters: g.GCSParameters(bucket, "/"+store)}
		},
		yaml: func(store string) string { return "storage:\n" + g.GCSConfigYAML(bucket, "/"+store) },
		serve: func(t *testing.T, store string) *testregistry.Registry {
			return testregistry.Start(t, testregistry.WithStorage("gcs", g.GCSParameters(bucket, "/"+store)), testregistry.WithReadOnly())
		},
		readOnly: true,
	}
}

// seed fills the backend's store "seed" with the scenario and odd files.
func seed(t *testing.T, b backend) scenario {
	var s scenario
	if b.readOnly {
		reg := testregistry.Start(t)
		s = seedScenario(t, reg)
		copyStore(t, gc.Storage{Driver: "filesystem", Parameters: map[string]any{"rootdirectory": reg.RootDir}}, b.storage("seed"))
	} else {
		s = seedScenario(t, b.serve(t, "seed"))
	}
	s.oddKept, s.oddDeleted = addOddFiles(t, b.storage("seed"))
	return s
}

// addOddFiles writes what no registry writes but a store may hold after
// a crash or a hand edit: a blob directory without its data file, named
// by a revision link of "app" and a layer link of "aaa/copy" (no blob, to
// the reference: it keeps all three), and an orphan blob whose directory
// holds a stray file (it deletes the directory).
func addOddFiles(t *testing.T, storage gc.Storage) (kept, deleted []string) {
	t.Helper()
	const v2 = "/docker/registry/v2"
	blobDir := func(dg v1.Hash) string { return v2 + "/blobs/sha256/" + dg.Hex[:2] + "/" + dg.Hex }
	noData, _, _ := v1.SHA256(strings.NewReader("a blob directory without its data file"))
	strayOrphan, _, _ := v1.SHA256(strings.NewReader("an orphan with a stray file"))
	files := map[string]string{
		blobDir(noData) + "/stray": "not the registry's",
		v2 + "/repositories/app/_manifests/revisions/sha256/" + noData.Hex + "/link": noData.String(),
		v2 + "/repositories/aaa/copy/_layers/sha256/" + noData.Hex + "/link":         noData.String(),
		blobDir(strayOrphan) + "/data":                                               "an orphan with a stray file",
		blobDir(strayOrphan) + "/stray":                                              "not the registry's",
	}
	d := testregistry.OpenStorage(t, storage.Driver, storage.Parameters)
	for p, content := range files {
		if err := d.PutContent(context.Background(), p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(p, strayOrphan.Hex) {
			deleted = append(deleted, p)
		} else {
			kept = append(kept, p)
		}
	}
	return kept, deleted
}

// TestEquivalentToReference runs distribution's `registry garbage-collect`
// on one copy of a store and ours on another, then compares every file
// left. Without --delete-untagged they must match exactly; with it, ours
// keeps exactly the untagged referrer of a kept image in addition. It runs
// on the filesystem, on S3 (MinIO), on Azure (Azurite) and on GCS
// (fake-gcs-server), with the registry storing or serving there.
func TestEquivalentToReference(t *testing.T) {
	reference := testregistry.FindReferenceGC(t)
	for name, newBackend := range map[string]func(*testing.T) backend{
		"filesystem": filesystemBackend, "s3": minioBackend, "azure": azuriteBackend, "gcs": fakeGCSBackend,
	} {
		t.Run(name, func(t *testing.T) {
			b := newBackend(t)
			s := seed(t, b)
			for _, deleteUntagged := range []bool{false, true} {
				t.Run(map[bool]string{false: "all manifests", true: "delete untagged"}[deleteUntagged], func(t *testing.T) {
					refStore, ourStore := t.Name()+"/reference", t.Name()+"/ours"
					copyStore(t, b.storage("seed"), b.storage(refStore))
					copyStore(t, b.storage("seed"), b.storage(ourStore))
					if err := reference.Run(context.Background(), b.yaml(refStore), deleteUntagged); err != nil {
						t.Fatal(err)
					}
					report := runGC(t, b.storage(ourStore), gc.Options{DeleteUntagged: deleteUntagged})
					if report.BlobsDeleted == 0 || report.LayerLinksDeleted == 0 || deleteUntagged && report.ManifestsDeleted == 0 {
						t.Fatalf("the scenario produced no garbage of some kind: %+v", report)
					}
					compareStores(t, storeFiles(t, b.storage(refStore)), storeFiles(t, b.storage(ourStore)), deleteUntagged, s)
					checkServable(t, b.serve(t, ourStore))
				})
			}
		})
	}
}

func compareStores(t *testing.T, refFiles, ourFiles map[string]string, deleteUntagged bool, s scenario) {
	t.Helper()
	for _, p := range s.oddKept {
		if _, ok := ourFiles[p]; !ok {
			t.Errorf("we deleted %s", p)
		}
	}
	for _, p := range s.oddDeleted {
		if _, ok := ourFiles[p]; ok {
			t.Errorf("we kept %s", p)
		}
	}
	if missing := subtract(refFiles, ourFiles); len(missing) > 0 {
		t.Errorf("we deleted files the reference keeps:\n%s", strings.Join(missing, "\n"))
	}
	extra := subtract(ourFiles, refFiles)
	if !deleteUntagged && len(extra) > 0 {
		t.Errorf("we kept files the reference deletes:\n%s", strings.Join(extra, "\n"))
	}
	if deleteUntagged {
		checkOnlyReferrerKept(t, extra, s)
	}
}

// checkOnlyReferrerKept checks that what we keep beyond the reference is
// the untagged referrer: its revision link, manifest and payload blob.
func checkOnlyReferrerKept(t *testing.T, extra []string, s scenario) {
	t.Helper()
	owned := []string{s.untaggedReferrer.Hex}
	for _, b := range s.referrerBlobs {
		owned = append(owned, b.Hex)
	}
	var revisionKept bool
	for _, p := range extra {
		if !slices.ContainsFunc(owned, func(hex string) bool { return strings.Contains(p, hex) }) {
			t.Errorf("kept %s, which is not part of the untagged referrer", p)
		}
		revisionKept = revisionKept || strings.Contains(p, "_manifests/revisions/sha256/"+s.untaggedReferrer.Hex)
	}
	if !revisionKept {
		t.Errorf("the untagged referrer %s was not kept; extra files: %v", s.untaggedReferrer, extra)
	}
}

// checkServable starts a registry over the collected store and validates
// every tagged image and index: manifests, children, configs and layers
// are all there and match their digests.
func checkServable(t *testing.T, reg *testregistry.Registry) {
	t.Helper()
	for _, repo := range []string{"app", "base"} {
		tags, err := reg.Tags(repo)
		if err != nil || len(tags) == 0 {
			t.Fatalf("tags of %s: %v, %v", repo, tags, err)
		}
		for _, tag := range tags {
			ref := mustRef(t, reg, repo, tag)
			desc, err := remote.Get(ref, reg.RemoteOptions()...)
			if err != nil {
				t.Errorf("%s: %v", ref, err)
				continue
			}
			if desc.MediaType.IsIndex() {
				idx, _ := desc.ImageIndex()
				err = validate.Index(idx)
			} else {
				img, _ := desc.Image()
				err = validate.Image(img)
			}
			if err != nil {
				t.Errorf("%s is broken after GC: %v", ref, err)
			}
		}
	}
}

func runGC(t *testing.T, storage gc.Storage, opts gc.Options) gc.Report {
	t.Helper()
	ctx := context.Background()
	d, err := storage.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	report, err := gc.Run(ctx, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	return report
}

// copyStore copies every file of one store into another, through the
// storage drivers, so that both GCs start from identical content.
func copyStore(t *testing.T, from, to gc.Storage) {
	t.Helper()
	if err := testregistry.CopyStorage(context.Background(),
		testregistry.OpenStorage(t, from.Driver, from.Parameters), testregistry.OpenStorage(t, to.Driver, to.Parameters)); err != nil {
		t.Fatal(err)
	}
}

// storeFiles maps every file of a store to a hash of its content.
func storeFiles(t *testing.T, s gc.Storage) map[string]string {
	t.Helper()
	ctx := context.Background()
	d := testregistry.OpenStorage(t, s.Driver, s.Parameters)
	files := map[string]string{}
	err := d.Walk(ctx, "/", func(fi storagedriver.FileInfo) error {
		if fi.IsDir() {
			return nil
		}
		content, err := d.GetContent(ctx, fi.Path())
		if err != nil {
			return err
		}
		sum := sha256.Sum256(content)
		files[fi.Path()] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// subtract lists the files of a that b lacks or holds with other content.
func subtract(a, b map[string]string) []string {
	var out []string
	for p, sum := range a {
		if b[p] != sum {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
