package gc

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
)

// d makes a readable fake digest: d("index") is sha256 of "index".
func d(name string) digest.Digest { return digest.FromString(name) }

// repo builds a repository whose manifests are all linked and present in
// inv's blobs.
func (inv *inventory) repo(name string, tags map[string]string, revisions ...string) *repository {
	r := newRepository(name)
	for tag, target := range tags {
		r.tags[tag] = inv.id(target)
	}
	for _, rev := range revisions {
		r.revisions = append(r.revisions, inv.id(rev))
	}
	return r
}

// id is the blob number of d(name), which inv's blobs must hold.
func (inv *inventory) id(name string) blobID {
	id, ok := inv.blobs.lookup(d(name))
	if !ok {
		panic("no blob " + name)
	}
	return id
}

func (plan *sweepPlan) isMarked(inv *inventory, name string) bool { return plan.marked[inv.id(name)] }

// testInventory: "app" has a tagged index with a child, a tagged image
// with an untagged signature which itself has an untagged attestation, and
// an untagged image with an untagged signature. "other" tags the digest
// that is untagged in "app".
func testInventory() *inventory {
	manifests := map[string]struct {
		references []string
		subject    string
	}{
		"index":           {references: []string{"child"}},
		"child":           {references: []string{"child-layer"}},
		"image":           {references: []string{"image-layer"}},
		"sig":             {references: []string{"sig-layer"}, subject: "image"},
		"att-of-sig":      {references: []string{"att-layer"}, subject: "sig"},
		"old":             {references: []string{"old-layer"}},
		"old-sig":         {references: []string{"old-sig-layer"}, subject: "old"},
		"shared-untagged": {references: []string{"shared-layer"}},
	}
	inv := &inventory{blobs: newBlobTable(), manifests: map[blobID]manifestBlobs{}}
	for _, name := range slices.Sorted(maps.Keys(manifests)) {
		inv.blobs.add(d(name), 10)
		for _, ref := range manifests[name].references {
			inv.blobs.add(d(ref), 100)
		}
	}
	inv.blobs.add(d("orphan"), 1000)
	for name, m := range manifests {
		refs := manifestBlobs{subject: noBlob}
		for _, ref := range m.references {
			refs.references = append(refs.references, inv.id(ref))
		}
		if m.subject != "" {
			refs.subject = inv.id(m.subject)
		}
		inv.manifests[inv.id(name)] = refs
	}
	inv.repos = []*repository{
		inv.repo("app", map[string]string{"multi": "index", "v1": "image"},
			"index", "child", "image", "sig", "att-of-sig", "old", "old-sig", "shared-untagged"),
		inv.repo("other", map[string]string{"latest": "shared-untagged"}, "shared-untagged"),
	}
	return inv
}

func deletedManifests(plan *sweepPlan) []string {
	var out []string
	for _, m := range plan.manifests {
		for _, name := range []string{"index", "child", "image", "sig", "att-of-sig", "old", "old-sig", "shared-untagged"} {
			if m.digest == d(name) {
				out = append(out, m.repo+"/"+name)
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestMarkDeleteUntagged(t *testing.T) {
	inv := testInventory()
	plan := mark(inv, Options{DeleteUntagged: true})
	// Kept: the index and its child, the image, its signature and the
	// signature's attestation, and shared-untagged (tagged in "other").
	if got, want := deletedManifests(plan), []string{"app/old", "app/old-sig"}; !slices.Equal(got, want) {
		t.Errorf("deleted manifests = %v, want %v", got, want)
	}
	for _, keptBlob := range []string{"child-layer", "image-layer", "sig-layer", "att-layer", "shared-layer"} {
		if !plan.isMarked(inv, keptBlob) {
			t.Errorf("%s is not marked", keptBlob)
		}
	}
	if got := len(plan.blobs); got != 5 { // old, old-sig, their layers, the orphan
		t.Errorf("%d blobs deleted, want 5: %v", got, plan.blobs)
	}
}

// A protected digest (a deployment pinned by digest whose tags were
// removed) is kept as if tagged, with what it references and its
// referrers.
func TestMarkKeepsProtectedUntagged(t *testing.T) {
	inv := testInventory()
	plan := mark(inv, Options{DeleteUntagged: true, Protect: map[string][]string{"app": {d("old").String()}}})
	if got := deletedManifests(plan); len(got) != 0 {
		t.Errorf("deleted manifests = %v, want none", got)
	}
	for _, keptBlob := range []string{"old-layer", "old-sig-layer"} {
		if !plan.isMarked(inv, keptBlob) {
			t.Errorf("%s is not marked", keptBlob)
		}
	}
}

func TestMarkKeepsEverythingLinkedWithoutDeleteUntagged(t *testing.T) {
	plan := mark(testInventory(), Options{})
	if len(plan.manifests) != 0 {
		t.Errorf("deleted manifests %v without delete_untagged", deletedManifests(plan))
	}
	if len(plan.blobs) != 1 || plan.blobs[0] != d("orphan") {
		t.Errorf("blobs deleted = %v, want only the orphan", plan.blobs)
	}
}

// A repository's layer link goes when its blob is unmarked by the
// repositories visited so far, as in the reference: a link in a repository
// visited before the one that references the blob is deleted, one visited
// after is kept.
func TestMarkLayerLinksFollowVisitOrder(t *testing.T) {
	inv := testInventory()
	before, after := inv.repo("aaa", nil), inv.repo("zzz", nil)
	before.layers = []blobID{inv.id("image-layer"), inv.id("orphan")}
	after.layers = []blobID{inv.id("image-layer")}
	inv.repos = append([]*repository{before}, append(inv.repos, after)...)
	plan := mark(inv, Options{})
	want := []layerLinkDeletion{{"aaa", d("image-layer")}, {"aaa", d("orphan")}}
	if !slices.Equal(plan.layerLinks, want) {
		t.Errorf("layer links deleted = %v, want %v", plan.layerLinks, want)
	}
}

func TestParseLayout(t *testing.T) {
	hex := d("x").Encoded()
	for p, want := range map[string]repoEntry{
		repositoriesRoot + "/team/app/_manifests/revisions/sha256/" + hex + "/link":       {kind: entryRevision, repo: "team/app", digest: d("x")},
		repositoriesRoot + "/team/app/_manifests/tags/_layers/current/link":               {kind: entryTagCurrent, repo: "team/app", tag: "_layers"},
		repositoriesRoot + "/app/_manifests/tags/v1/index/sha256/" + hex + "/link":        {kind: entryTagIndex, repo: "app", tag: "v1", digest: d("x")},
		repositoriesRoot + "/app/_layers/sha256/" + hex + "/link":                         {kind: entryLayer, repo: "app", digest: d("x")},
		repositoriesRoot + "/app/_layers/sha256/not-hex/link":                             {},
		repositoriesRoot + "/app/_uploads/u/startedat":                                    {},
		repositoriesRoot + "/app/_manifests/revisions/sha256/" + hex + "/link/extra/link": {},
		blobsRoot + "/sha256/" + hex[:2] + "/" + hex + "/data":                            {},
	} {
		if got := parseRepoFile(p); got != want {
			t.Errorf("parseRepoFile(%s) = %+v, want %+v", p, got, want)
		}
	}
	if got := parseBlobFile(blobsRoot + "/sha256/" + hex[:2] + "/" + hex + "/data"); got != d("x") {
		t.Errorf("parseBlobFile = %q", got)
	}
	if got := parseBlobFile(blobsRoot + "/sha256/zz/" + hex + "/data"); got != "" {
		t.Errorf("a blob under the wrong prefix directory parsed as %q", got)
	}
}

// orphanStore is a storage holding one blob that only a layer link of
// repository "app" names: garbage.
func orphanStore(t *testing.T) (*inmemory.Driver, digest.Digest, []byte) {
	t.Helper()
	drv := inmemory.New()
	orphan := []byte("orphan blob")
	dg := digest.FromBytes(orphan)
	for p, content := range map[string][]byte{
		blobPath(dg) + "/data": orphan,
		repositoriesRoot + "/app/_layers/sha256/" + dg.Encoded() + "/link": []byte(dg),
		repositoriesRoot + "/app/_manifests/tags/.keep":                    nil,
	} {
		if err := drv.PutContent(context.Background(), p, content); err != nil {
			t.Fatal(err)
		}
	}
	return drv, dg, orphan
}

// A dry run reports what a run deletes and deletes nothing.
func TestDryRunDeletesNothing(t *testing.T) {
	ctx := context.Background()
	drv, dg, orphan := orphanStore(t)
	var messages []string
	report, err := Run(ctx, drv, Options{DryRun: true, Progress: func(m string) { messages = append(messages, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if report.BlobsDeleted != 1 || report.BytesFreed != int64(len(orphan)) || report.LayerLinksDeleted != 1 {
		t.Errorf("report = %+v", report)
	}
	if _, err := drv.Stat(ctx, blobPath(dg)+"/data"); err != nil {
		t.Errorf("the dry run deleted the blob: %v", err)
	}
	if last := messages[len(messages)-1]; !strings.HasPrefix(last, "dry run, would delete 1 blobs (11 B)") {
		t.Errorf("summary = %q", last)
	}
}

// The scan reports each of its steps as it ends: on object storage a
// large store's scan takes minutes, and the step they go to says where
// to look.
func TestScanReportsEachStep(t *testing.T) {
	drv, dg, _ := orphanStore(t)
	if err := drv.PutContent(context.Background(), repositoriesRoot+"/app/_manifests/tags/v1/current/link", []byte(dg)); err != nil {
		t.Fatal(err)
	}
	var messages []string
	if _, err := Run(context.Background(), drv, Options{DeleteUntagged: true, DryRun: true, Progress: func(m string) { messages = append(messages, m) }}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listed 1 blobs", "split the repositories into 1 walks"} {
		if !slices.Contains(messages[:2], want) {
			t.Errorf("the first two messages %q lack %q", messages[:2], want)
		}
	}
	want := []string{"listed the links of 1 repositories", "read 1 tag links", "read 0 manifests", "scanned 1 repositories: 0 manifests, 1 blobs"}
	if got := messages[2:6]; !slices.Equal(got, want) {
		t.Errorf("the scan's later steps reported %q, want %q", got, want)
	}
}

// A run reports through Progress and its Report only: Terraform owns the
// provider's stdout (the plugin handshake), so a stray print would break it.
func TestRunPrintsNothing(t *testing.T) {
	drv, dg, _ := orphanStore(t)
	read, write, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = write
	_, runErr := Run(context.Background(), drv, Options{})
	os.Stdout = stdout
	if err := write.Close(); err != nil {
		t.Fatal(err)
	}
	printed, err := io.ReadAll(read)
	if err != nil {
		t.Fatal(err)
	}
	if runErr != nil {
		t.Fatal(runErr)
	}
	if len(printed) > 0 {
		t.Errorf("Run printed to stdout: %q", printed)
	}
	if _, err := drv.Stat(context.Background(), blobPath(dg)+"/data"); err == nil {
		t.Error("the run left the orphan blob")
	}
}

// readRecorder records the paths a run reads, lists, walks or stats,
// under the driver name it is given: the scan walks S3 ("s3aws") its own
// way.
type readRecorder struct {
	storagedriver.StorageDriver
	name  string
	mu    sync.Mutex
	paths []string
}

func (r *readRecorder) record(p string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.paths = append(r.paths, p)
}

func (r *readRecorder) Name() string { return r.name }

func (r *readRecorder) GetContent(ctx context.Context, p string) ([]byte, error) {
	r.record(p)
	return r.StorageDriver.GetContent(ctx, p)
}

func (r *readRecorder) Stat(ctx context.Context, p string) (storagedriver.FileInfo, error) {
	r.record(p)
	return r.StorageDriver.Stat(ctx, p)
}

func (r *readRecorder) List(ctx context.Context, p string) ([]string, error) {
	r.record(p)
	return r.StorageDriver.List(ctx, p)
}

// Walk records what it visits too: on S3 one listing returns it all.
func (r *readRecorder) Walk(ctx context.Context, p string, f storagedriver.WalkFn, opts ...func(*storagedriver.WalkOptions)) error {
	r.record(p)
	return r.StorageDriver.Walk(ctx, p, func(fi storagedriver.FileInfo) error {
		r.record(fi.Path())
		return f(fi)
	}, opts...)
}

// On S3 the scan lists layer link directories, and revision directories
// unless it may delete them, by directory: the server names each <hex>
// without reading the link below it. With DeleteUntagged it walks every
// key of the revision directories, which batch deletion must know.
func TestS3ScanListsLinkDirectories(t *testing.T) {
	for _, deleteUntagged := range []bool{false, true} {
		drv, dg, _ := orphanStore(t)
		manifest := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":11},"layers":[]}`, dg)
		image := digest.FromBytes(manifest)
		for p, content := range map[string][]byte{blobPath(image) + "/data": manifest, revisionPath("app", image) + "/link": []byte(image)} {
			if err := drv.PutContent(context.Background(), p, content); err != nil {
				t.Fatal(err)
			}
		}
		reads := &readRecorder{StorageDriver: drv, name: "s3aws"}
		if _, err := Run(context.Background(), reads, Options{DeleteUntagged: deleteUntagged, DryRun: true}); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(reads.paths, layerLinkPath("app", dg)) {
			t.Errorf("DeleteUntagged %v: read the layer link file (reads: %q)", deleteUntagged, reads.paths)
		}
		if got := slices.Contains(reads.paths, revisionPath("app", image)+"/link"); got != deleteUntagged {
			t.Errorf("DeleteUntagged %v: read the revision link file %v, want %v (reads: %q)", deleteUntagged, got, deleteUntagged, reads.paths)
		}
	}
}

// Without DeleteUntagged every linked manifest is kept whatever its tags,
// so a run reads nothing of the tags, neither links nor listings: on
// object storage, two fifths of the keys under a repository. No run reads
// the upload directories, which GC never touches.
func TestOnlyDeleteUntaggedReadsTags(t *testing.T) {
	for _, driverName := range []string{"inmemory", "s3aws"} {
		for _, deleteUntagged := range []bool{false, true} {
			drv, dg, _ := orphanStore(t)
			for _, p := range []string{"/app/_manifests/tags/v1/current/link", "/app/_uploads/u/startedat"} {
				if err := drv.PutContent(context.Background(), repositoriesRoot+p, []byte(dg)); err != nil {
					t.Fatal(err)
				}
			}
			reads := &readRecorder{StorageDriver: drv, name: driverName}
			if _, err := Run(context.Background(), reads, Options{DeleteUntagged: deleteUntagged, DryRun: true}); err != nil {
				t.Fatal(err)
			}
			touched := func(part string) bool {
				return slices.ContainsFunc(reads.paths, func(p string) bool { return strings.Contains(p, part) })
			}
			if got := touched("/_manifests/tags"); got != deleteUntagged {
				t.Errorf("%s, DeleteUntagged %v: read the tags %v, want %v (reads: %q)", driverName, deleteUntagged, got, deleteUntagged, reads.paths)
			}
			if readTag := touched("/v1/current/link"); readTag != deleteUntagged {
				t.Errorf("%s, DeleteUntagged %v: read the tag link %v, want %v (reads: %q)", driverName, deleteUntagged, readTag, deleteUntagged, reads.paths)
			}
			if touched("/_uploads") {
				t.Errorf("%s, DeleteUntagged %v: read the uploads (reads: %q)", driverName, deleteUntagged, reads.paths)
			}
		}
	}
}
