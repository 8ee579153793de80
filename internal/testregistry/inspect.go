package testregistry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// tagsPageSize is below the number of tags seeded by some tests, so Tags
// exercises the registry's Link pagination.
const tagsPageSize = 1000

var manifestMediaTypes = []types.MediaType{
	types.OCIManifestSchema1, types.OCIImageIndex,
	types.DockerManifestSchema2, types.DockerManifestList,
}

// RemoteOptions returns the go-containerregistry options (credentials and
// transport) for talking to this registry.
func (r *Registry) RemoteOptions() []remote.Option {
	return slices.Clone(r.remoteOpts)
}

// remoteOptions adds the registry's lifetime context, so calls made by the
// helpers stop when the registry closes.
func (r *Registry) remoteOptions() []remote.Option {
	return append(r.RemoteOptions(), remote.WithContext(r.ctx))
}

// Tags lists every tag of repo, following Link headers, sorted. An unknown
// repository has no tags: nil, nil.
func (r *Registry) Tags(repo string) ([]string, error) {
	client, err := r.client(repo, transport.PullScope)
	if err != nil {
		return nil, err
	}
	var tags []string
	next := fmt.Sprintf("%s/v2/%s/tags/list?n=%d", r.URL, repo, tagsPageSize)
	for next != "" {
		resp, err := client.Get(next)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusNotFound && tags == nil {
			resp.Body.Close()
			return nil, nil
		}
		var page struct {
			Tags []string `json:"tags"`
		}
		err = decode(resp, &page)
		if err != nil {
			return nil, err
		}
		tags = append(tags, page.Tags...)
		if next, err = nextPage(resp); err != nil {
			return nil, err
		}
	}
	slices.Sort(tags)
	return tags, nil
}

// ManifestExists reports whether HEAD /v2/<repo>/manifests/<digest>
// finds the manifest.
func (r *Registry) ManifestExists(repo string, digest v1.Hash) (bool, error) {
	client, err := r.client(repo, transport.PullScope)
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(r.ctx, http.MethodHead, r.manifestURL(repo, digest.String()), nil)
	if err != nil {
		return false, err
	}
	for _, mt := range manifestMediaTypes {
		req.Header.Add("Accept", string(mt))
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	default:
		return false, fmt.Errorf("HEAD %s: %s", req.URL, resp.Status)
	}
}

// DeleteManifest deletes a manifest by digest (and so every tag on it),
// as a client behind the provider's back would.
func (r *Registry) DeleteManifest(repo string, digest v1.Hash) error {
	ref, err := r.repository(repo)
	if err != nil {
		return err
	}
	return remote.Delete(ref.Digest(digest.String()), r.remoteOptions()...)
}

// DanglingTag writes tag into the storage pointing at a manifest the
// repository does not hold, as a push of the tag leaves it when it races
// a DELETE of its digest: listed, resolving to nothing. The registry must
// keep its storage in RootDir.
func (r *Registry) DanglingTag(repo, tag string) error {
	if r.RootDir == "" {
		return errors.New("DanglingTag needs a registry with its storage in RootDir")
	}
	sum := sha256.Sum256([]byte("a manifest deleted while " + repo + ":" + tag + " was pushed onto it"))
	gone := hex.EncodeToString(sum[:])
	link := "sha256:" + gone
	dir := filepath.Join(r.RootDir, "docker/registry/v2/repositories", repo, "_manifests/tags", tag)
	for _, p := range []string{filepath.Join(dir, "current/link"), filepath.Join(dir, "index/sha256", gone, "link")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(link), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// DeleteBlob deletes a blob (a config, a layer) through the API, leaving
// the manifests that name it incomplete.
func (r *Registry) DeleteBlob(repo string, digest v1.Hash) error {
	req, err := http.NewRequestWithContext(r.ctx, http.MethodDelete, fmt.Sprintf("%s/v2/%s/blobs/%s", r.URL, repo, digest), nil)
	if err != nil {
		return err
	}
	return r.send(repo, "delete", req, http.StatusAccepted)
}

// putManifest uploads manifest bytes under ref exactly as given, with none
// of the side effects ggcr adds for manifests that have a subject.
func (r *Registry) putManifest(repo, ref string, body []byte, mediaType types.MediaType) error {
	req, err := http.NewRequestWithContext(r.ctx, http.MethodPut, r.manifestURL(repo, ref), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", string(mediaType))
	return r.send(repo, transport.PushScope, req, http.StatusCreated)
}

// send makes req with action's scope on repo and expects the status want.
func (r *Registry) send(repo, action string, req *http.Request, want int) error {
	client, err := r.client(repo, action)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return responseError(resp)
	}
	return nil
}

// client returns an HTTP client that authenticates like a registry client:
// ggcr's transport pings /v2/ and answers the basic or bearer challenge,
// asking the token server for scope on repo.
func (r *Registry) client(repo, action string) (*http.Client, error) {
	ref, err := r.repository(repo)
	if err != nil {
		return nil, err
	}
	rt, err := transport.NewWithContext(r.ctx, ref.Registry, r.auth, r.rt, []string{ref.Scope(action)})
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: rt}, nil
}

func (r *Registry) manifestURL(repo, ref string) string {
	return fmt.Sprintf("%s/v2/%s/manifests/%s", r.URL, repo, ref)
}

// nextPage resolves the `Link: <url>; rel="next"` header, relative to the
// request, or returns "" on the last page.
func nextPage(resp *http.Response) (string, error) {
	link := resp.Header.Get("Link")
	start, end := strings.Index(link, "<"), strings.Index(link, ">")
	if start < 0 || end < start {
		return "", nil
	}
	u, err := resp.Request.URL.Parse(link[start+1 : end])
	if err != nil {
		return "", fmt.Errorf("bad Link header %q: %w", link, err)
	}
	return u.String(), nil
}

// decode reads a 200 JSON body into v and closes it.
func decode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return responseError(resp)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func responseError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return fmt.Errorf("%s %s: %s: %s", resp.Request.Method, resp.Request.URL, resp.Status, bytes.TrimSpace(body))
}
