package registry

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
)

// Repositories lists the whole catalog, following every page.
func (c *Client) Repositories(ctx context.Context) ([]string, error) {
	names, err := c.puller.Catalog(ctx, c.registry)
	return names, c.translate("listing the catalog", "", needPull, err)
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
	return tags, c.translate(fmt.Sprintf("listing tags of %q", repo), repo, needPull, err)
}

// repository validates a repository path (lowercase components, no registry
// host) and binds it to this client's registry.
func (c *Client) repository(repo string) (name.Repository, error) {
	if err := ValidateRepository(repo); err != nil {
		return name.Repository{}, err
	}
	return c.registry.Repo(repo), nil
}

// ValidateRepository checks repo with the reference grammar ggcr implements.
func ValidateRepository(repo string) error {
	if _, err := name.NewRepository("registry.invalid/"+repo, name.StrictValidation); err != nil {
		return fmt.Errorf("%q is not a valid repository name: use lowercase path components like team/app (%v)", repo, err)
	}
	return nil
}
