package registry

import (
	"context"
	"fmt"
	"strings"

	"github.com/distribution/reference"

	"github.com/google/go-containerregistry/pkg/name"
)

// Repositories lists the whole catalog, following every page.
func (c *Client) Repositories(ctx context.Context) ([]string, error) {
	names, err := c.puller.Catalog(ctx, c.registry)
	return names, c.translate("listing the catalog (GET /v2/_catalog)", "", needPull, err)
}

// Tags lists every tag of repo, following Link headers page by page, and
// also works with registries (distribution 2.8) that ignore n and last and
// answer with one page.
func (c *Client) Tags(ctx context.Context, repo string) ([]string, error) {
	r, err := c.repository(repo)
	if err != nil {
		return nil, err
	}
	tags, err := c.puller.List(ctx, r)
	return tags, c.translate(fmt.Sprintf("listing tags of %q (GET /v2/%s/tags/list)", repo, repo), repo, needPull, err)
}

// repository validates a repository path (lowercase components, no registry
// host) and binds it to this client's registry.
func (c *Client) repository(repo string) (name.Repository, error) {
	if err := ValidateRepository(repo); err != nil {
		return name.Repository{}, err
	}
	return c.registry.Repo(repo), nil
}

// ValidateRepository checks repo against the distribution grammar (the
// reference library distribution itself uses): lowercase components of
// letters and digits joined by '.', '_', '__' or dashes, separated by
// single '/', at most 255 characters. ggcr's own check lets "x/../app"
// and "a//b" through and then cleans the path, which would act on another
// repository than the one planned.
func ValidateRepository(repo string) error {
	// reference.WithName takes a first component followed by '/' for a
	// registry host, which may have a port and capitals; a repository
	// path has neither, and its limit counts every character.
	if _, err := reference.WithName(repo); err != nil || strings.ContainsRune(repo, ':') || strings.ToLower(repo) != repo || len(repo) > reference.RepositoryNameTotalLengthMax {
		return fmt.Errorf("%q is not a valid repository name: use lowercase components of letters and digits (joined by '.', '_' or '-') "+
			"separated by single '/', like team/app, with no empty, '.' or '..' component, no leading or trailing '/', at most 255 characters", repo)
	}
	return nil
}
