package gc

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/distreg/terraform-provider-registry/internal/journalformat"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// graceNow is the end of the grace window in these tests.
var graceNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// graceStore is a store after an apply that deleted too much, as the
// registry leaves it: in "app", the tagged image "stable"; "recent" and
// the index "multi" deleted an hour before graceNow (manifest blobs and
// their blobs still there, revision links and tags gone), the index's
// child "child" still linked but untagged; "old" deleted thirty days
// before. The journal holds the deletions in two chunks, one per apply.
type graceStore struct {
	files   map[string][]byte
	digests map[string]digest.Digest // by name: images, and "chunk-old", "chunk-recent" (their manifests)
	// parts lists the files of each part of the store: "old" (the old
	// image's blobs and layer links), "old-chunk" (the old chunk's tag,
	// revision link, manifest and layer blobs and layer link), "recent"
	// (the recent deletions' blobs and layer links), "child" (the index's
	// child's, its revision link too), "recent-chunk", "journal" (the
	// chunks' shared config) and "stable" (the tagged image)
	parts map[string]map[string]bool
}

func newGraceStore() *graceStore {
	s := &graceStore{files: map[string][]byte{}, digests: map[string]digest.Digest{}, parts: map[string]map[string]bool{}}
	s.image("stable", "stable", true)
	s.image("old", "old", false)
	s.image("recent", "recent", false)
	child := s.image("child", "child", true)
	index := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d}]}`,
		s.digests["child"], len(child))
	s.digests["multi"] = s.blob("recent", index)
	s.tag("app", "stable", s.digests["stable"])
	s.chunk("j-20250501T120000Z-aaaa-000", "old-chunk", graceNow.Add(-30*24*time.Hour), entry("old", s.body("old"), "application/vnd.oci.image.manifest.v1+json", "v0"))
	s.chunk("j-20250601T110000Z-bbbb-000", "recent-chunk", graceNow.Add(-time.Hour),
		entry("recent", s.body("recent"), "application/vnd.oci.image.manifest.v1+json", "v1"),
		entry("multi", index, "application/vnd.oci.image.index.v1+json", "multi"))
	return s
}

// blob stores content as a blob, a file of part ("" for none).
func (s *graceStore) blob(part string, content []byte) digest.Digest {
	dg := digest.FromBytes(content)
	s.add(part, blobPath(dg)+"/data", content)
	return dg
}

func (s *graceStore) add(part, p string, content []byte) {
	s.files[p] = content
	if s.parts[part] == nil {
		s.parts[part] = map[string]bool{}
	}
	s.parts[part][p] = true
}

func (s *graceStore) body(name string) []byte { return s.files[blobPath(s.digests[name])+"/data"] }

// image stores an image of "app" (config, layer, layer links), linked
// when asked, and returns its manifest.
func (s *graceStore) image(name, part string, linked bool) []byte {
	config := s.blob(part, fmt.Appendf(nil, `{"name":%q}`, name))
	layer := s.blob(part, []byte("layer of "+name))
	for _, dg := range []digest.Digest{config, layer} {
		s.add(part, layerLinkPath("app", dg), []byte(dg))
	}
	manifest := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":20},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":14}]}`, config, layer)
	s.digests[name] = s.blob(part, manifest)
	if linked {
		s.add(part, revisionPath("app", s.digests[name])+"/link", []byte(s.digests[name]))
	}
	return manifest
}

func (s *graceStore) tag(repo, tag string, dg digest.Digest) {
	s.add("stable", tagPath(repo, tag)+"/current/link", []byte(dg))
	s.add("stable", tagIndexEntryPath(repo, tag, dg)+"/link", []byte(dg))
}

func entry(name string, body []byte, mediaType, tag string) journalformat.Entry {
	return journalformat.Entry{Registry: "reg", Repository: "app", Digest: digest.FromBytes(body).String(), MediaType: mediaType, Body: body, Tags: []string{tag}}
}

// chunk stores a journal chunk as journal.go pushes it, its files in part.
func (s *graceStore) chunk(tag, part string, at time.Time, entries ...journalformat.Entry) {
	var lines []byte
	for _, e := range entries {
		e.At = at
		line, _ := json.Marshal(e)
		lines = append(append(lines, line...), '\n')
	}
	repo := journalformat.Repository
	config := s.blob("journal", []byte(`{"terraform-provider-registry":"journal","format":1}`))
	layer := s.blob(part, lines)
	s.add("journal", layerLinkPath(repo, config), []byte(config))
	s.add(part, layerLinkPath(repo, layer), []byte(layer))
	manifest := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":%q,`+
		`"config":{"mediaType":"application/vnd.distreg.terraform-provider-registry.journal.config.v1+json","digest":%q,"size":52},`+
		`"layers":[{"mediaType":%q,"digest":%q,"size":%d}],"annotations":{%q:"app"}}`,
		journalformat.ArtifactType, config, journalformat.LayerType, layer, len(lines), journalformat.RepositoryAnnotation)
	dg := s.blob(part, manifest)
	s.add(part, revisionPath(repo, dg)+"/link", []byte(dg))
	s.add(part, tagPath(repo, tag)+"/current/link", []byte(dg))
	s.add(part, tagIndexEntryPath(repo, tag, dg)+"/link", []byte(dg))
	s.digests["chunk:"+tag] = dg
}

// garbage is the union of the named parts.
func (s *graceStore) garbage(parts ...string) map[string]bool {
	out := map[string]bool{}
	for _, part := range parts {
		for p := range s.parts[part] {
			out[p] = true
		}
	}
	return out
}

// size is the bytes of the named parts' blobs.
func (s *graceStore) size(parts ...string) (blobs int, bytes int64) {
	for p := range s.garbage(parts...) {
		if strings.HasSuffix(p, "/data") {
			blobs++
			bytes += int64(len(s.files[p]))
		}
	}
	return blobs, bytes
}

// The helper writes chunks the way the journal does: the registry's own
// parser takes them for its own.
func TestGraceStoreChunksAreTheJournals(t *testing.T) {
	s := newGraceStore()
	for name, dg := range s.digests {
		if !strings.HasPrefix(name, "chunk:") {
			continue
		}
		if _, ours, err := journalformat.ParseManifest(s.files[blobPath(dg)+"/data"]); err != nil || !ours {
			t.Fatalf("chunk %s: ours=%v, %v: the test's chunks are out of date with journal.go", name, ours, err)
		}
	}
}

// runGrace writes s into a fresh storage of driver and collects with opts.
func runGrace(t *testing.T, storage Storage, s *graceStore, opts Options) (Report, func(garbage map[string]bool)) {
	t.Helper()
	ctx := context.Background()
	if err := putFiles(ctx, testregistry.OpenStorage(t, storage.Driver, storage.Parameters), s.files); err != nil {
		t.Fatal(err)
	}
	d, err := storage.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	opts.Now = graceNow
	report, err := Run(ctx, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	return report, func(garbage map[string]bool) { t.Helper(); checkSwept(t, d, s.files, garbage) }
}

func filesystemAt(t *testing.T) Storage {
	return Storage{Driver: "filesystem", Parameters: map[string]any{"rootdirectory": t.TempDir()}}
}

// With a day's grace, what the recent apply deleted stays (the index's
// untagged child too, with delete_untagged) and the report counts it as
// held back; what the old one deleted goes, and so does its journal
// chunk. Without a grace, both applies' deletions go, and the journal is
// left alone.
func TestGraceKeepsRecentDeletionsAndPrunesTheJournal(t *testing.T) {
	for _, deleteUntagged := range []bool{false, true} {
		t.Run(fmt.Sprintf("delete_untagged=%v", deleteUntagged), func(t *testing.T) {
			checkGrace(t, filesystemAt(t), deleteUntagged)
		})
	}
}

func checkGrace(t *testing.T, storage Storage, deleteUntagged bool) {
	s := newGraceStore()
	report, check := runGrace(t, storage, s, Options{DeleteUntagged: deleteUntagged, KeepDeletedWithin: 24 * time.Hour})
	check(s.garbage("old", "old-chunk"))
	blobs, bytes := s.size("recent")
	if deleteUntagged { // the untagged child stays for the index
		childBlobs, childBytes := s.size("child")
		blobs, bytes = blobs+childBlobs, bytes+childBytes
	}
	if report.ManifestsHeldBack != 2 || report.BlobsHeldBack != blobs || report.BytesHeldBack != bytes || report.JournalChunksPruned != 1 {
		t.Errorf("report = %+v, want 2 manifests, %d blobs (%d bytes) held back and 1 chunk pruned", report, blobs, bytes)
	}
	if !strings.Contains(report.Summary(), "of 2 manifests deleted within 24h, restorable; pruned 1 journal chunks older") {
		t.Errorf("summary %q does not tell the grace", report.Summary())
	}
}

// Without a grace the recent deletions go too, and the journal is left
// alone: both chunks stay, and nothing is reported held back.
func TestNoGraceLeavesTheJournalAlone(t *testing.T) {
	s := newGraceStore()
	report, check := runGrace(t, filesystemAt(t), s, Options{DeleteUntagged: true})
	check(s.garbage("old", "recent", "child"))
	if report.ManifestsHeldBack != 0 || report.BlobsHeldBack != 0 || report.BytesHeldBack != 0 || report.JournalChunksPruned != 0 {
		t.Errorf("report = %+v, want nothing held back or pruned", report)
	}
	if strings.Contains(report.Summary(), "journal") {
		t.Errorf("summary %q tells of a grace there was none of", report.Summary())
	}
}

// Once the window has passed both applies, their deletions go, and so do
// both chunks, and with the last of them the config they share: only the
// tagged image is left.
func TestGraceOutsideTheWindow(t *testing.T) {
	s := newGraceStore()
	report, check := runGrace(t, filesystemAt(t), s, Options{DeleteUntagged: true, KeepDeletedWithin: 30 * time.Minute})
	check(s.garbage("old", "old-chunk", "recent", "child", "recent-chunk", "journal"))
	if report.ManifestsHeldBack != 0 || report.BytesHeldBack != 0 || report.JournalChunksPruned != 2 {
		t.Errorf("report = %+v, want nothing held back and 2 chunks pruned", report)
	}
}

// A dry run deletes nothing, prunes nothing, and reports what a run would.
func TestGraceDryRunDeletesNothing(t *testing.T) {
	s := newGraceStore()
	report, check := runGrace(t, filesystemAt(t), s, Options{DeleteUntagged: true, DryRun: true, KeepDeletedWithin: 24 * time.Hour})
	check(map[string]bool{})
	blobs, _ := s.size("recent", "child")
	if report.ManifestsHeldBack != 2 || report.BlobsHeldBack != blobs || report.JournalChunksPruned != 1 || report.BlobsDeleted == 0 {
		t.Errorf("report = %+v, want what a run would do: 2 manifests, %d blobs held back, 1 chunk pruned, blobs deleted", report, blobs)
	}
	if !strings.Contains(report.Summary(), "would prune 1 journal chunks") {
		t.Errorf("summary %q", report.Summary())
	}
}

// On S3 the pruned chunks' tag directories, which no one key stands for,
// go whole, and batch deletion sweeps the rest as on the filesystem.
func TestS3Grace(t *testing.T) {
	m := testregistry.StartMinIO(t)
	if err := m.CreateBucket("registry"); err != nil {
		t.Fatal(err)
	}
	checkGrace(t, Storage{Driver: "s3", Parameters: m.S3Parameters("registry", "/store")}, true)
}

// A chunk of the journal's making that cannot be read stops a run with a
// grace before anything is deleted, naming the chunk: what its entries
// need kept is unknown.
func TestGraceStopsOnADamagedChunk(t *testing.T) {
	s := newGraceStore()
	damaged := entry("recent", s.body("recent"), "application/vnd.oci.image.manifest.v1+json", "v1")
	damaged.Body = append([]byte(" "), damaged.Body...) // no longer hashes to its digest
	s.chunk("j-20250601T113000Z-cccc-000", "", graceNow, damaged)
	storage := filesystemAt(t)
	ctx := context.Background()
	if err := putFiles(ctx, testregistry.OpenStorage(t, storage.Driver, storage.Parameters), s.files); err != nil {
		t.Fatal(err)
	}
	d, err := storage.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(ctx, d, Options{KeepDeletedWithin: time.Hour, Now: graceNow})
	if err == nil || !strings.Contains(err.Error(), "stopped before deleting anything: the journal's chunk "+journalformat.Repository+":j-20250601T113000Z-cccc-000 cannot be read") {
		t.Fatalf("err = %v", err)
	}
	checkSwept(t, d, s.files, map[string]bool{})
}
