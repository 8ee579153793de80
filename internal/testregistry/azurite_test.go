package testregistry

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
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

	d := newDriver(t, "azure", a.AzureParameters("registry", "/reg"))
	assertList(t, d, repositoriesPath, repositoriesPath+"/app")
	resp := send(t, http.MethodDelete, r.manifestURL("app", img.Digest.String()), nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE: got %s, want 202", resp.Status)
	}
	assertTags(t, r, "app")
}

// TestAzuriteConfigYAML checks that AzureConfigYAML, nested credentials
// included, parses as a registry binary would parse its config.yml into a
// working driver.
func TestAzuriteConfigYAML(t *testing.T) {
	a := StartAzurite(t)
	if err := a.CreateContainer("yaml"); err != nil {
		t.Fatal(err)
	}
	cfg, err := configuration.Parse(strings.NewReader("version: 0.1\nstorage:\n" + a.AzureConfigYAML("yaml", "/reg")))
	if err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, cfg.Storage.Type(), cfg.Storage.Parameters())
	ctx := context.Background()
	if err := d.PutContent(ctx, "/probe", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	got, err := newDriver(t, "azure", a.AzureParameters("yaml", "/reg")).GetContent(ctx, "/probe")
	if err != nil || string(got) != "ok" {
		t.Fatalf("GetContent: got %q, %v; want \"ok\"", got, err)
	}
}
