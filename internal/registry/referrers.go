package registry

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// APIReferrers asks the OCI referrers API (GET /v2/<repo>/referrers/<digest>)
// for the manifests whose subject is each of subjects. Registries without
// the API (distribution 2.8 and v3 among them) answer 404; then the result
// is empty and the fallback tags in a Snapshot are the only referrers.
func (c *Client) APIReferrers(ctx context.Context, repo string, subjects []string) (map[string][]string, error) {
	r, err := c.repository(repo)
	if err != nil {
		return nil, err
	}
	client, err := c.writer(ctx, r)
	if err != nil {
		return nil, c.translate("listing referrers in "+repo, repo, needDelete, err)
	}
	found := map[string][]string{}
	for _, subject := range subjects {
		u := url.URL{Scheme: r.Scheme(), Host: r.RegistryStr(), Path: fmt.Sprintf("/v2/%s/referrers/%s", r.RepositoryStr(), subject)}
		idx, supported, err := fetchReferrers(ctx, client, u.String())
		if err != nil {
			return nil, c.translate(fmt.Sprintf("listing referrers of %s in %s", subject, repo), repo, needPull, err)
		}
		if !supported {
			return found, nil
		}
		for _, m := range idx.Manifests {
			found[subject] = append(found[subject], m.Digest.String())
		}
	}
	return found, nil
}

func fetchReferrers(ctx context.Context, client *http.Client, u string) (*v1.IndexManifest, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept", string(types.OCIImageIndex))
	resp, err := client.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusNotFound {
		return nil, false, nil
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, false, err
	}
	idx, err := v1.ParseIndexManifest(resp.Body)
	return idx, true, err
}
