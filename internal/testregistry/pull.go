package testregistry

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// Pull reads what `docker pull repo:ref` reads (ref a tag or a digest):
// the manifest, and every config and layer blob, checking each digest;
// for an index, every child in full. Nil means a client can pull it.
func (r *Registry) Pull(repo, ref string) error {
	repository, err := r.repository(repo)
	if err != nil {
		return err
	}
	var reference name.Reference = repository.Tag(ref)
	if _, err := v1.NewHash(ref); err == nil {
		reference = repository.Digest(ref)
	}
	desc, err := remote.Get(reference, r.remoteOptions()...)
	if err != nil {
		return fmt.Errorf("pulling %s:%s: %w", repo, ref, err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		if err := validate.Index(idx); err != nil {
			return fmt.Errorf("pulling %s:%s: %w", repo, ref, err)
		}
		return nil
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	if err := validate.Image(img); err != nil {
		return fmt.Errorf("pulling %s:%s: %w", repo, ref, err)
	}
	return nil
}

// RemoveBlobFile removes a blob's data from the filesystem storage, as
// garbage collection does when it frees it. The registry must be
// restarted afterwards (its blob descriptor cache still knows the blob),
// as after any garbage collection.
func (r *Registry) RemoveBlobFile(digest v1.Hash) error {
	if r.RootDir == "" {
		return fmt.Errorf("RemoveBlobFile needs filesystem storage")
	}
	return os.RemoveAll(filepath.Join(r.RootDir, "docker", "registry", "v2", "blobs", digest.Algorithm, digest.Hex[:2], digest.Hex))
}

// Resolve returns the digest tag points at in repo (a HEAD, accepting
// every manifest type, as a client does).
func (r *Registry) Resolve(repo, tag string) (v1.Hash, error) {
	repository, err := r.repository(repo)
	if err != nil {
		return v1.Hash{}, err
	}
	desc, err := remote.Head(repository.Tag(tag), r.remoteOptions()...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("resolving %s:%s: %w", repo, tag, err)
	}
	return desc.Digest, nil
}
