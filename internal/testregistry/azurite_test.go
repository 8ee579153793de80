package testregistry

import (
	"net/http"
	"testing"
	"time"
)

// TestAzuriteRegistry runs distribution v3 over Azure blob storage on
// Azurite and checks that what the registry serves is what the container
// holds, and that deleting a digest takes its tags along there too.
func TestAzuriteRegistry(t *testing.T) {
	a := StartAzurite(t)
	if err := a.CreateContainer("registry"); err != nil {
		t.Fatal(err)
	}
	r := Start(t, WithStorage("azure", a.AzureParameters("registry", "/reg")))
	img, err := r.PushImage("app", time.Now(), "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	assertTags(t, r, "app", "a", "b")
	readImage(t, r, "app", "a")

	d := OpenStorage(t, "azure", a.AzureParameters("registry", "/reg"))
	assertList(t, d, repositoriesPath, repositoriesPath+"/app")
	resp := send(t, http.MethodDelete, r.manifestURL("app", img.Digest.String()), nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE: got %s, want 202", resp.Status)
	}
	assertTags(t, r, "app")
}
