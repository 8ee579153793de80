package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

const needDelete action = "delete"

// probeDigest names a manifest that cannot exist: it is the digest of a
// string that is not JSON, and registries store only JSON manifests.
var probeDigest = func() string {
	sum := sha256.Sum256([]byte("terraform-provider-registry deletion probe: never a manifest"))
	return "sha256:" + hex.EncodeToString(sum[:])
}()

// CheckDeletable asks the registry to delete a manifest that cannot exist,
// which deletes nothing and answers the questions that would otherwise
// surface halfway through an apply: is deletion enabled (405 UNSUPPORTED),
// is the registry read-only (405), do the credentials carry "delete"
// (401/403)? A 404 means yes to all.
func (c *Client) CheckDeletable(ctx context.Context, repo string) error {
	err := c.deleteManifest(ctx, repo, probeDigest)
	if err == nil || IsNotFound(err) {
		return nil
	}
	return err
}

// CheckEach runs check (CheckDeletable, CheckRestorable) on each
// repository, max_concurrency at a time, and returns each one's answer
// (nil: accepted) in the order of repos: a plan over many repositories
// asks in a few round trips, not one after the other (behind 30 ms, a
// policy over 20 repositories spent 1.8 s asking).
func (c *Client) CheckEach(ctx context.Context, repos []string, check func(context.Context, string) error) []error {
	answers, _ := mapParallel(ctx, c.concurrency, repos, func(ctx context.Context, repo string) (error, error) {
		return check(ctx, repo), nil
	})
	return answers
}

// DeleteManifest deletes a manifest by digest, which removes every tag
// pointing at it. A manifest that is already gone counts as deleted.
func (c *Client) DeleteManifest(ctx context.Context, repo, digest string) error {
	if err := c.deleteManifest(ctx, repo, digest); err != nil && !IsNotFound(err) {
		return err
	}
	return nil
}

func (c *Client) deleteManifest(ctx context.Context, repo, reference string) error {
	ref, err := c.reference(repo, reference)
	if err != nil {
		return err
	}
	return c.translate("deleting "+shortRef(ref), repo, needDelete, c.sendDelete(ctx, ref.Context(), reference))
}

// deleteTries is what the tries of one DELETE came to, as far as a client
// can tell.
type deleteTries struct {
	// earlierUnknown: a try before the last may have been carried out
	// (written, and its answer lost or a 5xx): a last 404 is then this
	// apply's deletion.
	earlierUnknown bool
	// mayHaveDeleted: some try may have been carried out (written, and
	// answered 2xx or 404, or its answer lost or a 5xx). Without one, the
	// DELETE was refused at every try (401, 403, 405, 429, a redirect) or
	// never sent (the registry could not be reached): not carried out.
	mayHaveDeleted bool
}

// deleteTracked is deleteManifest, also telling what its tries came to:
// its last answer alone cannot say, as a retry finds the manifest gone
// (404) or is refused in front of the registry (403) after an earlier try
// deleted it (review 60), and an error may come before any try was sent
// (review 62). A DELETE that ggcr's bearer transport sends again after a
// 401 (a token renewed) was refused, not carried out.
func (c *Client) deleteTracked(ctx context.Context, repo, digest string) (deleteTries, error) {
	var tries deleteTries
	ref, err := c.reference(repo, digest)
	if err == nil {
		_, err = c.writer(ctx, ref.Context()) // its token first: the tries below are the DELETE's
	}
	if err != nil {
		return tries, c.translate("deleting "+shortRef(ref), repo, needDelete, err)
	}
	var written atomic.Int32 // writes of the current try, counted from net/http's writing goroutine
	var lastUnknown bool     // the tries run one after another
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { written.Add(1) }})
	ctx = observeAttempts(ctx, func(req *http.Request, resp *http.Response, err error) {
		writes := written.Swap(0)
		sent := writes > 0 || resp != nil // an answer came: it was sent (HTTP/2 may report the write after the answer)
		if req.Method != http.MethodDelete {
			return // a token's request
		}
		unknown := sent && (err != nil || resp.StatusCode >= 500)
		// More than one write in one try: net/http sent it again by itself
		// (HTTP/2 retries a bodiless request on a stream reset), and the
		// write before may have been carried out (review 63).
		tries.earlierUnknown = tries.earlierUnknown || lastUnknown || writes > 1
		lastUnknown = unknown
		answeredDone := resp != nil && (resp.StatusCode < 300 || resp.StatusCode == http.StatusNotFound)
		tries.mayHaveDeleted = tries.mayHaveDeleted || unknown || answeredDone || writes > 1
	})
	err = c.deleteManifest(ctx, repo, digest)
	return tries, err
}

// DeleteTag removes one tag and never another tag on the same digest: with
// the tag-delete API where the registry has it, otherwise by pointing the
// tag at a placeholder of its own and deleting that by digest. A tag that
// does not exist counts as deleted.
func (c *Client) DeleteTag(ctx context.Context, repo, tag string) error {
	ref, err := c.tagRef(repo, tag)
	if err != nil {
		return err
	}
	err = c.sendDelete(ctx, ref.Context(), tag)
	if isTagDeleteUnsupported(err) {
		err = c.untagWithPlaceholder(ctx, ref)
	}
	err = c.translate(fmt.Sprintf("deleting tag %s:%s", repo, tag), repo, needDelete, err)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// sendDelete issues DELETE /v2/<repo>/manifests/<reference> and returns the
// registry's answer untranslated.
func (c *Client) sendDelete(ctx context.Context, repo name.Repository, reference string) error {
	client, err := c.writer(ctx, repo)
	if err != nil {
		return err
	}
	u := url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/manifests/%s", repo.RepositoryStr(), reference)}
	_, err = send(ctx, client, http.MethodDelete, u, http.StatusOK, http.StatusAccepted)
	return err
}

// writer returns an HTTP client for repo holding a token with push, pull
// and delete, made once per repository and reused for every deletion.
func (c *Client) writer(ctx context.Context, repo name.Repository) (*http.Client, error) {
	return c.writers.get(repo.Name(), func() (*http.Client, error) {
		rt, err := transport.NewWithContext(ctx, repo.Registry, c.auth, c.transport, []string{repo.Scope(transport.DeleteScope)})
		if err != nil {
			return nil, err
		}
		return &http.Client{Transport: rt}, nil
	})
}

// isTagDeleteUnsupported tells a registry without the tag-delete API
// (distribution 2.8 answers 400 DIGEST_INVALID; others a bare 405) from
// one with deletion disabled (405 UNSUPPORTED).
func isTagDeleteUnsupported(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	code := diagnosticCode(terr)
	switch terr.StatusCode {
	case http.StatusBadRequest:
		return code == transport.DigestInvalidErrorCode
	case http.StatusMethodNotAllowed:
		return code == ""
	}
	return false
}
