package testregistry

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var created = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func TestPushImageConfig(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start starter) {
		r := start(t)
		dated, err := r.PushImageFor("app", v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, created, "dated")
		if err != nil {
			t.Fatal(err)
		}
		undated, err := r.PushImage("app", time.Time{}, "undated")
		if err != nil {
			t.Fatal(err)
		}

		cfg := rawConfig(t, r, "app", dated)
		if cfg["created"] != created.Format(time.RFC3339) || cfg["architecture"] != "arm" || cfg["variant"] != "v7" {
			t.Errorf("dated config: %v", cfg)
		}
		cfg = rawConfig(t, r, "app", undated)
		if _, ok := cfg["created"]; ok {
			t.Errorf("zero created time wrote a created field: %v", cfg)
		}
		if cfg["os"] != "linux" || cfg["architecture"] != "amd64" {
			t.Errorf("default platform: %v", cfg)
		}
	})
}

func TestTagAddsTagsToExistingManifest(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start starter) {
		r := start(t)
		img, err := r.PushImage("app", created)
		if err != nil {
			t.Fatal(err)
		}
		assertTags(t, r, "app")
		if err := r.Tag("app", img.Digest, "a", "b"); err != nil {
			t.Fatal(err)
		}
		assertTags(t, r, "app", "a", "b")
	})
}

func TestPushIndex(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start starter) {
		r := start(t)
		platforms := []v1.Platform{
			{OS: "linux", Architecture: "amd64"},
			{OS: "linux", Architecture: "arm64", Variant: "v8"},
		}
		digest, children, err := r.PushIndex("multi", platforms, created, "latest")
		if err != nil {
			t.Fatal(err)
		}
		assertTags(t, r, "multi", "latest")
		for _, d := range append([]v1.Hash{digest}, children...) {
			assertExists(t, r, "multi", d, true)
		}

		ref := mustRepo(t, r, "multi")
		idx, err := remote.Index(ref.Tag("latest"), r.RemoteOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := idx.Digest(); got != digest {
			t.Errorf("index digest: got %s, want %s", got, digest)
		}
		manifest, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if manifest.MediaType != types.OCIImageIndex || len(manifest.Manifests) != len(platforms) || len(children) != len(platforms) {
			t.Fatalf("index manifest: %+v, children %v", manifest, children)
		}
		for i, desc := range manifest.Manifests {
			if desc.Digest != children[i] || desc.Platform == nil || !desc.Platform.Equals(platforms[i]) {
				t.Errorf("child %d: got %s %+v, want %s %+v", i, desc.Digest, desc.Platform, children[i], platforms[i])
			}
			img, err := remote.Image(ref.Digest(children[i].String()), r.RemoteOptions()...)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if want := created.Add(time.Duration(i) * time.Second); !cfg.Created.Equal(want) {
				t.Errorf("child %d created: got %s, want %s", i, cfg.Created, want)
			}
		}
	})
}

func TestPushReferrer(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start starter) {
		r := start(t)
		img, err := r.PushImage("app", created, "v1")
		if err != nil {
			t.Fatal(err)
		}
		sig, err := r.PushReferrer("app", img.Digest, "sig")
		if err != nil {
			t.Fatal(err)
		}
		fallback := "sha256-" + img.Digest.Hex + ".sig"
		// Exactly the cosign tag: no extra "sha256-<hex>" tag from ggcr.
		assertTags(t, r, "app", fallback, "v1")

		desc, err := remote.Get(mustRepo(t, r, "app").Tag(fallback), r.RemoteOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		if desc.Digest != sig {
			t.Errorf("%s points at %s, want %s", fallback, desc.Digest, sig)
		}
		var m v1.Manifest
		if err := json.Unmarshal(desc.Manifest, &m); err != nil {
			t.Fatal(err)
		}
		if m.Subject == nil || m.Subject.Digest != img.Digest || m.Subject.MediaType != types.OCIManifestSchema1 || m.Subject.Size != img.Size {
			t.Errorf("subject: got %+v, want the image %+v", m.Subject, img)
		}
		if !strings.HasSuffix(m.ArtifactType, ".sig.v1+json") {
			t.Errorf("artifactType: %q", m.ArtifactType)
		}
	})
}

func TestSeedTags(t *testing.T) {
	const n = 2500
	r := Start(t)
	start := time.Now()
	digests, err := r.SeedTags("bulk", n,
		func(i int) string { return fmt.Sprintf("build-%05d", i) },
		func(i int) time.Time { return created.Add(time.Duration(i) * time.Minute) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d tags in %s", n, time.Since(start))

	tags, err := r.Tags("bulk")
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != n || tags[0] != "build-00000" || tags[n-1] != fmt.Sprintf("build-%05d", n-1) {
		t.Fatalf("got %d tags (%v ... %v), want %d", len(tags), tags[:min(3, len(tags))], tags[max(0, len(tags)-3):], n)
	}
	unique := map[v1.Hash]bool{}
	for _, d := range digests {
		unique[d] = true
	}
	if len(unique) != n {
		t.Errorf("got %d distinct digests, want %d", len(unique), n)
	}
	desc, err := remote.Head(mustRepo(t, r, "bulk").Tag("build-01234"), r.RemoteOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != digests[1234] {
		t.Errorf("build-01234 is %s, want %s", desc.Digest, digests[1234])
	}
}

func rawConfig(t *testing.T, r *Registry, repo string, img Image) map[string]any {
	t.Helper()
	pulled, err := remote.Image(mustRepo(t, r, repo).Digest(img.Digest.String()), r.RemoteOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if name, _ := pulled.ConfigName(); name != img.ConfigDigest {
		t.Errorf("config digest: got %s, want %s", name, img.ConfigDigest)
	}
	raw, err := pulled.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}
