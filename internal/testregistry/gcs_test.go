package testregistry

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestFakeGCSRegistry runs distribution v3 over GCS storage on
// fake-gcs-server, filled from a filesystem store (a registry cannot upload
// blobs there: see CopyStorage), and checks that it serves the images and
// that deleting a digest takes its tags along there too.
func TestFakeGCSRegistry(t *testing.T) {
	g := StartFakeGCS(t)
	if err := g.CreateBucket("registry"); err != nil {
		t.Fatal(err)
	}
	seed := Start(t)
	img, err := seed.PushImage("app", time.Now(), "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	d := OpenStorage(t, "gcs", g.GCSParameters("registry", "/reg"))
	if err := CopyStorage(context.Background(), OpenStorage(t, "filesystem", map[string]any{"rootdirectory": seed.RootDir}), d); err != nil {
		t.Fatal(err)
	}
	assertList(t, d, repositoriesPath, repositoriesPath+"/app")

	r := Start(t, WithStorage("gcs", g.GCSParameters("registry", "/reg")))
	assertTags(t, r, "app", "a", "b")
	readImage(t, r, "app", "a")
	resp := send(t, http.MethodDelete, r.manifestURL("app", img.Digest.String()), nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE: got %s, want 202", resp.Status)
	}
	assertTags(t, r, "app")
}
