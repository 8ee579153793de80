package testregistry

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const repositoriesPath = "/docker/registry/v2/repositories"

// TestMinIORegistry runs distribution v3 over S3 storage on MinIO and
// checks that what the registry serves is what the bucket holds.
func TestMinIORegistry(t *testing.T) {
	m := StartMinIO(t)
	if err := m.CreateBucket("registry"); err != nil {
		t.Fatal(err)
	}
	r := Start(t, WithStorage("s3", m.S3Parameters("registry", "/reg")))
	if r.RootDir != "" {
		t.Errorf("RootDir = %q with WithStorage, want empty", r.RootDir)
	}

	img, err := r.PushImage("app", time.Now(), "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	assertTags(t, r, "app", "a", "b")
	readImage(t, r, "app", "a")

	d := OpenStorage(t, "s3", m.S3Parameters("registry", "/reg"))
	assertList(t, d, repositoriesPath, repositoriesPath+"/app")
	link, err := d.GetContent(context.Background(), repositoriesPath+"/app/_manifests/tags/a/current/link")
	if err != nil {
		t.Fatal(err)
	}
	if string(link) != img.Digest.String() {
		t.Errorf("tag link: got %q, want %s", link, img.Digest)
	}
	// The objects really are under the root directory of the bucket.
	root := OpenStorage(t, "s3", m.S3Parameters("registry", ""))
	assertList(t, root, "/reg"+repositoriesPath, "/reg"+repositoriesPath+"/app")

	// Deleting by digest removes every tag here too: the driver deletes
	// the tags' "directories" by listing and deleting prefixes.
	resp := send(t, http.MethodDelete, r.manifestURL("app", img.Digest.String()), nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE: got %s, want 202", resp.Status)
	}
	assertTags(t, r, "app")
}

// TestMinIORedirectsBlobs pins a difference from filesystem storage: blob
// GETs answer 307 to a presigned MinIO URL, which clients must follow.
func TestMinIORedirectsBlobs(t *testing.T) {
	m := StartMinIO(t)
	if err := m.CreateBucket("registry"); err != nil {
		t.Fatal(err)
	}
	r := Start(t, WithStorage("s3", m.S3Parameters("registry", "/")))
	img, err := r.PushImage("app", time.Now(), "a")
	if err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(r.URL + "/v2/app/blobs/" + img.ConfigDigest.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, m.Endpoint+"/registry/") {
		t.Errorf("GET config blob: got %s to %q, want 307 to %s/registry/...", resp.Status, loc, m.Endpoint)
	}
	readImage(t, r, "app", "a")
}

func TestMinIOClose(t *testing.T) {
	requireTool(t, minioPath, ErrMinIONotInstalled, minioRequiredEnv)
	m, err := NewMinIO(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(m.Endpoint + "/minio/health/live"); err == nil {
		resp.Body.Close()
		t.Errorf("MinIO still answers after Close: %s", resp.Status)
	}
	if err := m.CreateBucket("late"); err == nil {
		t.Error("CreateBucket after Close: no error")
	}
}

func TestWithStorageErrors(t *testing.T) {
	params := map[string]any{"bucket": "b"}
	if _, err := NewV28(context.Background(), WithStorage("s3", params)); err == nil {
		t.Error("NewV28 with WithStorage: no error")
	}
	if _, err := New(context.Background(), WithStorage("s3", params), WithRootDir(t.TempDir())); err == nil {
		t.Error("WithStorage with WithRootDir: no error")
	}
}

// readImage pulls the manifest, config and layers of repo:tag.
func readImage(t *testing.T, r *Registry, repo, tag string) {
	t.Helper()
	img, err := remote.Image(mustRepo(t, r, repo).Tag(tag), r.RemoteOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.RawConfigFile(); err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func assertList(t *testing.T, d storagedriver.StorageDriver, path string, want ...string) {
	t.Helper()
	got, err := d.List(context.Background(), path)
	if err != nil {
		t.Fatalf("List %s: %v", path, err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("List %s: got %v, want %v", path, got, want)
	}
}
