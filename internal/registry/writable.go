package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ProbeRepository is where AcceptsPushes starts its upload. Starting and
// cancelling an upload stores no blob and no manifest; on a filesystem
// backend it may leave this repository's empty directory behind.
const ProbeRepository = "terraform-provider-registry/gc-probe"

const needPush action = "push"

// AcceptsPushes reports whether the registry would accept a push right
// now, by starting a blob upload and cancelling it at once. A registry in
// read-only mode (storage.maintenance.readonly) answers 405: false. Any
// other failure (no push permission, unreachable) is an error: it cannot
// be told whether pushes are possible.
func (c *Client) AcceptsPushes(ctx context.Context) (bool, error) {
	repo := c.registry.Repo(ProbeRepository)
	client, err := c.writer(ctx, repo)
	if err != nil {
		return false, c.translate("checking whether the registry accepts pushes", ProbeRepository, needPush, err)
	}
	start := url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/blobs/uploads/", ProbeRepository)}
	location, err := send(ctx, client, http.MethodPost, start, http.StatusAccepted)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusMethodNotAllowed {
		return false, nil
	}
	if err != nil {
		return false, c.translate("checking whether the registry accepts pushes", ProbeRepository, needPush, err)
	}
	upload, err := start.Parse(location)
	if err != nil {
		return true, fmt.Errorf("the registry accepted an upload but sent an unusable Location %q: %w", location, err)
	}
	if _, err := send(ctx, client, http.MethodDelete, *upload, http.StatusNoContent, http.StatusOK, http.StatusAccepted); err != nil {
		return true, c.translate("cancelling the probe upload", ProbeRepository, needPush, err)
	}
	return true, nil
}

// send issues a bodiless request and returns the Location header of an
// expected answer, or the registry's error untranslated.
func send(ctx context.Context, client *http.Client, method string, u url.URL, expected ...int) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer drain(resp)
	if err := transport.CheckError(resp, expected...); err != nil {
		return "", err
	}
	return resp.Header.Get("Location"), nil
}

// IsStopped tells whether the registry is down: one request to /v2/, not
// retried. A refused connection means stopped; any answer means running;
// anything else (a timeout, a name that does not resolve) cannot tell.
func (c *Client) IsStopped(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/v2/", nil)
	if err != nil {
		return false, err
	}
	resp, err := c.base.RoundTrip(req)
	if err == nil {
		drain(resp)
		return false, nil
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true, nil
	}
	return false, fmt.Errorf("asking %s whether it is running: %w", c.url, err)
}
