package testregistry

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestDeleteByDigestRemovesEveryTag(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start starter) {
		r := start(t)
		img, err := r.PushImage("team/app", time.Now(), "latest", "v1.9")
		if err != nil {
			t.Fatal(err)
		}
		assertTags(t, r, "team/app", "latest", "v1.9")
		assertExists(t, r, "team/app", img.Digest, true)

		resp := send(t, http.MethodDelete, r.manifestURL("team/app", img.Digest.String()), nil)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("DELETE: got %s, want 202", resp.Status)
		}

		assertTags(t, r, "team/app")
		assertExists(t, r, "team/app", img.Digest, false)
	})
}

func TestDeleteDisabledAnswersUnsupported(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start starter) {
		r := start(t, WithDeleteDisabled())
		img, err := r.PushImage("app", time.Now(), "v1")
		if err != nil {
			t.Fatal(err)
		}

		resp := send(t, http.MethodDelete, r.manifestURL("app", img.Digest.String()), nil)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("DELETE: got %s, want 405", resp.Status)
		}
		if code := errorCode(t, resp); code != "UNSUPPORTED" {
			t.Errorf("error code: got %q, want UNSUPPORTED", code)
		}
		assertExists(t, r, "app", img.Digest, true)
	})
}

func TestReadOnlyServesSeededDataAndRejectsWrites(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start starter) {
		dir := t.TempDir()
		seeded := start(t, WithRootDir(dir))
		img, err := seeded.PushImage("app", time.Now(), "v1")
		if err != nil {
			t.Fatal(err)
		}
		// As in a real deployment, the writer is gone before the
		// read-only registry starts.
		if err := seeded.Close(); err != nil {
			t.Fatal(err)
		}

		r := start(t, WithReadOnly(), WithRootDir(dir))
		assertTags(t, r, "app", "v1")
		assertExists(t, r, "app", img.Digest, true)

		_, err = r.PushImage("app", time.Now(), "v2")
		var terr *transport.Error
		if !errors.As(err, &terr) || terr.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("push to read-only registry: got %v, want a 405", err)
		}
		resp := send(t, http.MethodDelete, r.manifestURL("app", img.Digest.String()), nil)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("DELETE: got %s, want 405", resp.Status)
		}
		assertTags(t, r, "app", "v1")
	})
}

func TestUnknownRepositoryHasNoTags(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start starter) {
		r := start(t)
		tags, err := r.Tags("nothing/here")
		if err != nil || tags != nil {
			t.Fatalf("Tags: got %v, %v; want nil, nil", tags, err)
		}
	})
}

func TestRootDirSurvivesClose(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start starter) {
		dir := t.TempDir()
		first := start(t, WithRootDir(dir))
		if _, err := first.PushImage("app", time.Now(), "kept"); err != nil {
			t.Fatal(err)
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := http.Get(first.URL + "/v2/"); err == nil {
			t.Error("registry still answers after Close")
		}

		second := start(t, WithRootDir(dir))
		assertTags(t, second, "app", "kept")
	})
}

func TestCloseRemovesOwnStorage(t *testing.T) {
	forEachRegistry(t, func(t *testing.T, start starter) {
		r := start(t)
		if _, err := r.PushImage("app", time.Time{}, "v1"); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(r.RootDir); !os.IsNotExist(err) {
			t.Errorf("storage %s still exists after Close: %v", r.RootDir, err)
		}
	})
}

// send makes an unauthenticated request; edit may add credentials.
func send(t *testing.T, method, url string, edit func(*http.Request)) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// errorCode returns the first code of a distribution error body.
func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	var e struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("not a registry error body: %q", body)
	}
	return e.Errors[0].Code
}

func assertTags(t *testing.T, r *Registry, repo string, want ...string) {
	t.Helper()
	got, err := r.Tags(repo)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("tags of %s: got %v, want %v", repo, got, want)
	}
}

func assertExists(t *testing.T, r *Registry, repo string, digest v1.Hash, want bool) {
	t.Helper()
	got, err := r.ManifestExists(repo, digest)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("manifest %s@%s exists: got %v, want %v", repo, digest, got, want)
	}
}

func mustRepo(t *testing.T, r *Registry, repo string) name.Repository {
	t.Helper()
	ref, err := r.repository(repo)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}
