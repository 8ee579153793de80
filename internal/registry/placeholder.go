package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Registries without the tag-delete API (distribution 2.8) can only delete
// manifests, which takes every tag on the digest along. To remove just one
// tag, the tag is first moved onto a placeholder manifest that no other tag
// can share (it carries a random annotation), and that placeholder is then
// deleted by digest. The image the tag pointed at stays, as with a real
// tag delete.

const (
	emptyMediaType        = types.MediaType("application/vnd.oci.empty.v1+json")
	placeholderAnnotation = "io.github.distreg.terraform-provider-registry.placeholder"
)

var emptyBlob = static.NewLayer([]byte("{}"), emptyMediaType)

func (c *Client) untagWithPlaceholder(ctx context.Context, ref name.Tag) error {
	if err := c.pusher.Upload(ctx, ref.Context(), emptyBlob); err != nil {
		return err
	}
	placeholder, err := newPlaceholder(ref.TagStr())
	if err != nil {
		return err
	}
	if err := c.pusher.Put(ctx, ref, placeholder); err != nil {
		return err
	}
	if err := c.sendDelete(ctx, ref.Context(), placeholder.digest.String()); err != nil {
		return fmt.Errorf("tag %s now points at placeholder %s, which could not be deleted (delete that digest to finish): %w", ref.TagStr(), placeholder.digest, err)
	}
	return nil
}

type placeholderManifest struct {
	body   []byte
	digest v1.Hash
}

func (p placeholderManifest) RawManifest() ([]byte, error) { return p.body, nil }
func (p placeholderManifest) MediaType() (types.MediaType, error) {
	return types.OCIManifestSchema1, nil
}

func newPlaceholder(tag string) (placeholderManifest, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return placeholderManifest{}, err
	}
	empty, err := partial.Descriptor(emptyBlob)
	if err != nil {
		return placeholderManifest{}, err
	}
	body, err := json.Marshal(v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        *empty,
		Layers:        []v1.Descriptor{*empty},
		Annotations:   map[string]string{placeholderAnnotation: tag + " " + hex.EncodeToString(nonce)},
	})
	if err != nil {
		return placeholderManifest{}, err
	}
	digest, _, err := v1.SHA256(bytes.NewReader(body))
	return placeholderManifest{body: body, digest: digest}, err
}
