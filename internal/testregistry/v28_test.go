package testregistry

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// starter is Start or StartV28.
type starter func(testing.TB, ...Option) *Registry

// forEachRegistry runs test against both registries the provider supports:
// distribution v3 in-process and distribution 2.8 as a child process.
func forEachRegistry(t *testing.T, test func(t *testing.T, start starter)) {
	for _, s := range []struct {
		name  string
		start starter
	}{{"v3", Start}, {"v2.8", StartV28}} {
		t.Run(s.name, func(t *testing.T) { test(t, s.start) })
	}
}

// TestV28Quirks pins the 2.8 behaviour that differs from v3 and that the
// provider has to cope with.
func TestV28Quirks(t *testing.T) {
	r := StartV28(t)
	img, err := r.PushImage("app", time.Now(), "a", "b")
	if err != nil {
		t.Fatal(err)
	}

	// Only digests can be deleted.
	byTag := send(t, http.MethodDelete, r.manifestURL("app", "a"), nil)
	if byTag.StatusCode != http.StatusBadRequest {
		t.Errorf("DELETE by tag: got %s, want 400", byTag.Status)
	} else if code := errorCode(t, byTag); code != "DIGEST_INVALID" {
		t.Errorf("DELETE by tag: error code %q, want DIGEST_INVALID", code)
	}
	assertTags(t, r, "app", "a", "b")

	// n is ignored: every tag in one page, no Link header.
	page := send(t, http.MethodGet, r.URL+"/v2/app/tags/list?n=1", nil)
	if tags := tagsBody(t, page); len(tags) != 2 || page.Header.Get("Link") != "" {
		t.Errorf("tags?n=1: got %v, Link %q; want both tags and no Link", tags, page.Header.Get("Link"))
	}

	// A docker schema2 manifest read by tag without a schema2 Accept
	// header is rewritten to schema1, with another digest.
	schema2, err := random.Image(layerSize, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRepo(t, r, "app").Tag("s2"), schema2, r.RemoteOptions()...); err != nil {
		t.Fatal(err)
	}
	head := send(t, http.MethodHead, r.manifestURL("app", "s2"), nil)
	if mt := head.Header.Get("Content-Type"); mt != "application/vnd.docker.distribution.manifest.v1+prettyjws" {
		t.Errorf("HEAD schema2 by tag without Accept: Content-Type %q, want schema1", mt)
	}

	// An OCI index is hidden from clients that do not accept OCI indexes.
	index, _, err := r.PushIndex("app", []v1.Platform{defaultPlatform}, time.Now(), "multi")
	if err != nil {
		t.Fatal(err)
	}
	accept := func(mt ...types.MediaType) func(*http.Request) {
		return func(req *http.Request) {
			for _, m := range mt {
				req.Header.Add("Accept", string(m))
			}
		}
	}
	hidden := send(t, http.MethodHead, r.manifestURL("app", index.String()), accept(types.OCIManifestSchema1, types.DockerManifestSchema2, types.DockerManifestList))
	if hidden.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD OCI index without its Accept: got %s, want 404", hidden.Status)
	}

	// Deleting the last tags leaves the repository with "tags": null.
	s2Digest, err := schema2.Digest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []v1.Hash{img.Digest, index, s2Digest} {
		if resp := send(t, http.MethodDelete, r.manifestURL("app", d.String()), nil); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("DELETE %s: %s", d, resp.Status)
		}
	}
	empty := send(t, http.MethodGet, r.URL+"/v2/app/tags/list", nil)
	if tags := tagsBody(t, empty); tags != nil {
		t.Errorf("tags after deleting every tag: got %v, want null", tags)
	}
}

// tagsBody decodes a 200 tag list; a JSON null decodes to nil.
func tagsBody(t *testing.T, resp *http.Response) []string {
	t.Helper()
	var page struct {
		Tags []string `json:"tags"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("tags list: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	return page.Tags
}

// TestEmptyConfigManifest checks that both registries accept an OCI image
// manifest whose config is the OCI empty descriptor (media type
// application/vnd.oci.empty.v1+json, content "{}"), as artifacts use, with
// an ordinary layer and with the empty descriptor as its only layer.
func TestEmptyConfigManifest(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start starter) {
		r := start(t)
		ref := mustRepo(t, r, "artifact")
		p, err := remote.NewPusher(r.remoteOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		layer, err := random.Layer(layerSize, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		var descs []v1.Descriptor
		for _, blob := range []v1.Layer{static.NewLayer([]byte("{}"), types.OCIEmptyJSON), layer} {
			desc, err := r.uploadBlob(p, ref, blob)
			if err != nil {
				t.Fatal(err)
			}
			descs = append(descs, desc)
		}
		empty, layerDesc := descs[0], descs[1]

		for tag, layers := range map[string][]v1.Descriptor{"with-layer": {layerDesc}, "empty-layer": {empty}} {
			raw, err := newRawManifest(v1.Manifest{
				SchemaVersion: 2,
				MediaType:     types.OCIManifestSchema1,
				ArtifactType:  "application/vnd.example.test.v1",
				Config:        empty,
				Layers:        layers,
			}, types.OCIManifestSchema1)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.putManifest("artifact", tag, raw.body, raw.mediaType); err != nil {
				t.Fatalf("%s: %v", tag, err)
			}
			desc, err := remote.Get(ref.Tag(tag), r.RemoteOptions()...)
			if err != nil {
				t.Fatal(err)
			}
			if desc.Digest != raw.digest || string(desc.Manifest) != string(raw.body) {
				t.Errorf("%s: got %s %s, want %s", tag, desc.Digest, desc.Manifest, raw.digest)
			}
		}
		assertTags(t, r, "artifact", "empty-layer", "with-layer")
	})
}

func TestV28CloseStopsChild(t *testing.T) {
	r := StartV28(t)
	cmd := r.child.cmd
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if cmd.ProcessState == nil {
		t.Fatal("child not reaped by Close")
	}
	if proc, err := os.FindProcess(cmd.Process.Pid); err == nil {
		if err := proc.Signal(syscall.Signal(0)); err == nil {
			t.Errorf("child %d still running after Close (%s)", cmd.Process.Pid, cmd.ProcessState)
		}
	}
	if _, err := http.Get(r.URL + "/v2/"); err == nil {
		t.Error("registry still answers after Close")
	}
}

func TestChildOutputInStartupError(t *testing.T) {
	requireV28(t)
	bin, _ := v28Path()
	_, err := childServer{name: "docker-registry", bin: bin, inUse: []string{addrInUse},
		launch: func(host, port string) ([]string, readiness, error) {
			ready := readiness{"http://" + host + ":" + port + "/v2/", []int{http.StatusOK}, v28StartTimeout}
			return []string{"serve", "/nonexistent/config.yml"}, ready, nil
		},
	}.start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "nonexistent") {
		t.Fatalf("got %v, want an error quoting the child's output", err)
	}
}

func TestV28TokenAuthUnsupported(t *testing.T) {
	requireV28(t)
	_, err := NewV28(t.Context(), WithTokenAuth("bob", "t0ken"))
	if err == nil || !strings.Contains(err.Error(), "WithTokenAuth") {
		t.Fatalf("got %v, want an error naming WithTokenAuth", err)
	}
}

func TestV28IgnoresMachineRegistryEnvironment(t *testing.T) {
	// Would make the child listen elsewhere and refuse every DELETE.
	t.Setenv("REGISTRY_HTTP_ADDR", "127.0.0.1:1")
	t.Setenv("REGISTRY_STORAGE_DELETE_ENABLED", "false")
	r := StartV28(t)
	img, err := r.PushImage("app", time.Now(), "v1")
	if err != nil {
		t.Fatal(err)
	}
	resp := send(t, http.MethodDelete, r.manifestURL("app", img.Digest.String()), nil)
	if resp.StatusCode != http.StatusAccepted {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("DELETE: got %s %s, want 202", resp.Status, body)
	}
}
