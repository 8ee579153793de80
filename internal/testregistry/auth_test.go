package testregistry

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestBasicAuth(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start starter) {
		r := start(t, WithBasicAuth("alice", "s3cret"))

		anonymous := send(t, http.MethodGet, r.URL+"/v2/", nil)
		if anonymous.StatusCode != http.StatusUnauthorized {
			t.Fatalf("anonymous: got %s, want 401", anonymous.Status)
		}
		if h := anonymous.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Basic ") {
			t.Errorf("challenge: got %q, want Basic", h)
		}
		wrong := send(t, http.MethodGet, r.URL+"/v2/", func(req *http.Request) { req.SetBasicAuth("alice", "nope") })
		if wrong.StatusCode != http.StatusUnauthorized {
			t.Errorf("wrong password: got %s, want 401", wrong.Status)
		}
		right := send(t, http.MethodGet, r.URL+"/v2/", func(req *http.Request) { req.SetBasicAuth("alice", "s3cret") })
		if right.StatusCode != http.StatusOK {
			t.Errorf("right password: got %s, want 200", right.Status)
		}

		if _, err := r.PushImage("app", time.Now(), "v1"); err != nil {
			t.Fatal(err)
		}
		assertTags(t, r, "app", "v1")
	})
}

func TestTokenAuth(t *testing.T) {
	r := Start(t, WithTokenAuth("bob", "t0ken"))

	anonymous := send(t, http.MethodGet, r.URL+"/v2/", nil)
	challenge := anonymous.Header.Get("WWW-Authenticate")
	if anonymous.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(challenge, "Bearer ") {
		t.Fatalf("anonymous: got %s %q, want 401 with a Bearer challenge", anonymous.Status, challenge)
	}
	for _, want := range []string{`service="test-registry"`, `/token"`} {
		if !strings.Contains(challenge, want) {
			t.Errorf("challenge %q lacks %s", challenge, want)
		}
	}

	img, err := r.PushImage("app", time.Now(), "v1", "v2")
	if err != nil {
		t.Fatal(err)
	}
	repo := mustRepo(t, r, "app")
	tags, err := remote.List(repo, r.RemoteOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tags, []string{"v1", "v2"}) {
		t.Errorf("ggcr list: got %v", tags)
	}

	wrong := []remote.Option{remote.WithAuth(&authn.Basic{Username: "bob", Password: "nope"})}
	if _, err := remote.List(repo, wrong...); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("list with wrong password: got %v, want a 401", err)
	}
	randomImg, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Tag("intruder"), randomImg, wrong...); err == nil {
		t.Error("push with wrong password succeeded")
	}

	tokenURL := r.URL + "/token?service=test-registry&scope=repository:app:pull"
	denied := send(t, http.MethodGet, tokenURL, func(req *http.Request) { req.SetBasicAuth("bob", "nope") })
	if denied.StatusCode != http.StatusUnauthorized {
		t.Errorf("token with wrong password: got %s, want 401", denied.Status)
	}
	pullOnly := send(t, http.MethodGet, tokenURL, func(req *http.Request) { req.SetBasicAuth("bob", "t0ken") })
	var issued struct{ Token string }
	if err := json.NewDecoder(pullOnly.Body).Decode(&issued); err != nil || issued.Token == "" {
		t.Fatalf("token response: %s, %v", pullOnly.Status, err)
	}
	bearer := func(req *http.Request) {
		req.Header.Set("Authorization", "Bearer "+issued.Token)
		// Without it distribution hides OCI manifests (404).
		req.Header.Set("Accept", string(types.OCIManifestSchema1))
	}
	manifest := r.manifestURL("app", img.Digest.String())
	if resp := send(t, http.MethodHead, manifest, bearer); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD with a pull token: got %s, want 200", resp.Status)
	}
	if resp := send(t, http.MethodDelete, manifest, bearer); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("DELETE with a pull-only token: got %s, want 401", resp.Status)
	}

	// ggcr asks for the delete action when deleting.
	if err := remote.Delete(repo.Digest(img.Digest.String()), r.RemoteOptions()...); err != nil {
		t.Fatal(err)
	}
	assertTags(t, r, "app")
}
