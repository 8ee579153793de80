package testregistry

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// Image identifies a pushed image manifest.
type Image struct {
	Digest       v1.Hash
	ConfigDigest v1.Hash
	Size         int64 // manifest size in bytes
}

const (
	layerSize   = 256
	seedWorkers = 8
)

var defaultPlatform = v1.Platform{OS: "linux", Architecture: "amd64"}

// PushImage pushes a new, unique linux/amd64 image and tags it with every
// tag (by digest only when there are none). A zero created leaves the
// config without a "created" field, i.e. an image of unknown age.
func (r *Registry) PushImage(repo string, created time.Time, tags ...string) (Image, error) {
	return r.PushImageFor(repo, defaultPlatform, created, tags...)
}

// PushImageFor is PushImage for another platform.
func (r *Registry) PushImageFor(repo string, platform v1.Platform, created time.Time, tags ...string) (Image, error) {
	layer, err := random.Layer(layerSize, types.OCILayer)
	if err != nil {
		return Image{}, err
	}
	img, info, err := newImage(layer, platform, created)
	if err != nil {
		return Image{}, err
	}
	if err := r.push(repo, img, info.Digest, tags); err != nil {
		return Image{}, err
	}
	return info, nil
}

// PushIndex pushes one image per platform, child i created at created+i
// seconds (so the last platform is the newest), then an OCI image index over
// them. It returns the index digest and the children's digests in platform
// order.
func (r *Registry) PushIndex(repo string, platforms []v1.Platform, created time.Time, tags ...string) (v1.Hash, []v1.Hash, error) {
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	children := make([]v1.Hash, 0, len(platforms))
	for i, platform := range platforms {
		childCreated := created
		if !created.IsZero() {
			childCreated = created.Add(time.Duration(i) * time.Second)
		}
		child, err := r.PushImageFor(repo, platform, childCreated)
		if err != nil {
			return v1.Hash{}, nil, err
		}
		children = append(children, child.Digest)
		index.Manifests = append(index.Manifests, v1.Descriptor{
			MediaType: types.OCIManifestSchema1,
			Size:      child.Size,
			Digest:    child.Digest,
			Platform:  &platform,
		})
	}
	raw, err := newRawManifest(index, types.OCIImageIndex)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	if err := r.push(repo, raw, raw.digest, tags); err != nil {
		return v1.Hash{}, nil, err
	}
	return raw.digest, children, nil
}

// PushIndexOf pushes an OCI index over manifests already in repo, as a
// multi-arch build that reuses earlier platform images does.
func (r *Registry) PushIndexOf(repo string, children []v1.Hash, tags ...string) (v1.Hash, error) {
	ref, err := r.repository(repo)
	if err != nil {
		return v1.Hash{}, err
	}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for _, child := range children {
		desc, err := remote.Head(ref.Digest(child.String()), r.remoteOptions()...)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("child %s: %w", child, err)
		}
		index.Manifests = append(index.Manifests, *desc)
	}
	raw, err := newRawManifest(index, types.OCIImageIndex)
	if err != nil {
		return v1.Hash{}, err
	}
	return raw.digest, r.push(repo, raw, raw.digest, tags)
}

// PushReferrer pushes a cosign-style artifact whose subject is the given
// manifest and tags it "sha256-<hex>.<suffix>", the tag cosign uses. The
// manifest is PUT directly: ggcr's Put would notice the subject, find no
// referrers API on distribution v3 and add its own "sha256-<hex>" index tag,
// which cosign does not create.
func (r *Registry) PushReferrer(repo string, subject v1.Hash, suffix string) (v1.Hash, error) {
	return r.pushReferrer(repo, subject, suffix, true)
}

// PushUntaggedReferrer pushes the same kind of artifact by digest only, as
// OCI 1.1 clients do on registries with a referrers API: only its subject
// field ties it to the image.
func (r *Registry) PushUntaggedReferrer(repo string, subject v1.Hash, suffix string) (v1.Hash, error) {
	return r.pushReferrer(repo, subject, suffix, false)
}

func (r *Registry) pushReferrer(repo string, subject v1.Hash, suffix string, tagged bool) (v1.Hash, error) {
	ref, err := r.repository(repo)
	if err != nil {
		return v1.Hash{}, err
	}
	subjectDesc, err := remote.Head(ref.Digest(subject.String()), r.remoteOptions()...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("subject %s: %w", subject, err)
	}
	payload, err := signaturePayload(ref, subject)
	if err != nil {
		return v1.Hash{}, err
	}
	p, err := remote.NewPusher(r.remoteOptions()...)
	if err != nil {
		return v1.Hash{}, err
	}
	configDesc, err := r.uploadBlob(p, ref, static.NewLayer([]byte("{}"), types.OCIEmptyJSON))
	if err != nil {
		return v1.Hash{}, err
	}
	layerDesc, err := r.uploadBlob(p, ref, static.NewLayer(payload, "application/vnd.dev.cosign.simplesigning.v1+json"))
	if err != nil {
		return v1.Hash{}, err
	}
	layerDesc.Annotations = map[string]string{"dev.cosignproject.cosign/signature": nonce()}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  "application/vnd.dev.cosign.artifact." + suffix + ".v1+json",
		Config:        configDesc,
		Layers:        []v1.Descriptor{layerDesc},
		Subject:       subjectDesc,
	}
	raw, err := newRawManifest(m, types.OCIManifestSchema1)
	if err != nil {
		return v1.Hash{}, err
	}
	target := raw.digest.String()
	if tagged {
		target = strings.Replace(subject.String(), ":", "-", 1) + "." + suffix
	}
	if err := r.putManifest(repo, target, raw.body, raw.mediaType); err != nil {
		return v1.Hash{}, err
	}
	return raw.digest, nil
}

// signaturePayload is shaped like cosign's simple-signing payload; the nonce
// makes every signature, and so every referrer digest, unique.
func signaturePayload(ref name.Repository, subject v1.Hash) ([]byte, error) {
	return json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": ref.String()},
			"image":    map[string]string{"docker-manifest-digest": subject.String()},
			"type":     "cosign container image signature",
		},
		"optional": map[string]string{"nonce": nonce()},
	})
}

// Tag points more tags at an existing manifest by PUTting its exact bytes,
// which is all a registry needs to tag something.
func (r *Registry) Tag(repo string, digest v1.Hash, tags ...string) error {
	ref, err := r.repository(repo)
	if err != nil {
		return err
	}
	desc, err := remote.Get(ref.Digest(digest.String()), r.remoteOptions()...)
	if err != nil {
		return err
	}
	for _, tag := range tags {
		if err := r.putManifest(repo, tag, desc.Manifest, desc.MediaType); err != nil {
			return err
		}
	}
	return nil
}

// SeedTags pushes n distinct images, image i tagged tagFor(i) and created at
// createdFor(i), and returns their digests in order. The images share one
// layer and differ only in their config, and one Pusher uploads that layer
// once and reuses its authenticated connection for every push.
func (r *Registry) SeedTags(repo string, n int, tagFor func(i int) string, createdFor func(i int) time.Time) ([]v1.Hash, error) {
	ref, err := r.repository(repo)
	if err != nil {
		return nil, err
	}
	layer, err := random.Layer(layerSize, types.OCILayer)
	if err != nil {
		return nil, err
	}
	p, err := remote.NewPusher(r.remoteOptions()...)
	if err != nil {
		return nil, err
	}
	digests := make([]v1.Hash, n)
	g, ctx := errgroup.WithContext(r.ctx)
	g.SetLimit(seedWorkers)
	for i := range n {
		g.Go(func() error {
			img, info, err := newImage(layer, defaultPlatform, createdFor(i))
			if err != nil {
				return err
			}
			if err := p.Push(ctx, ref.Tag(tagFor(i)), img); err != nil {
				return fmt.Errorf("seed %s:%s: %w", repo, tagFor(i), err)
			}
			digests[i] = info.Digest
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return digests, nil
}

// push writes t with its dependencies, under every tag or by digest. One
// Pusher per call uploads the blobs once however many tags there are, and
// forgets them afterwards, so a test that deletes and re-pushes is not
// fooled by a stale "already uploaded" cache.
func (r *Registry) push(repo string, t remote.Taggable, digest v1.Hash, tags []string) error {
	ref, err := r.repository(repo)
	if err != nil {
		return err
	}
	p, err := remote.NewPusher(r.remoteOptions()...)
	if err != nil {
		return err
	}
	refs := []name.Reference{ref.Digest(digest.String())}
	if len(tags) > 0 {
		refs = refs[:0]
		for _, tag := range tags {
			refs = append(refs, ref.Tag(tag))
		}
	}
	for _, target := range refs {
		if err := p.Push(r.ctx, target, t); err != nil {
			return fmt.Errorf("push %s: %w", target, err)
		}
	}
	return nil
}

func (r *Registry) uploadBlob(p *remote.Pusher, repo name.Repository, blob v1.Layer) (v1.Descriptor, error) {
	if err := p.Upload(r.ctx, repo, blob); err != nil {
		return v1.Descriptor{}, err
	}
	desc, err := partial.Descriptor(blob)
	if err != nil {
		return v1.Descriptor{}, err
	}
	return *desc, nil
}

func (r *Registry) repository(repo string) (name.Repository, error) {
	return name.NewRepository(r.Host+"/"+repo, name.Insecure)
}

// newImage assembles a single-layer image from config and manifest bytes
// written here, so the config holds exactly what a test asked for: ggcr's
// v1.ConfigFile would always serialise "created", even for a zero time.
func newImage(layer v1.Layer, platform v1.Platform, created time.Time) (v1.Image, Image, error) {
	diffID, err := layer.DiffID()
	if err != nil {
		return nil, Image{}, err
	}
	cfg := imageConfig{
		Architecture: platform.Architecture,
		OS:           platform.OS,
		Variant:      platform.Variant,
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}},
	}
	if !created.IsZero() {
		utc := created.UTC()
		cfg.Created = &utc
	}
	cfg.Config.Labels = map[string]string{"testregistry.nonce": nonce()}
	config, err := json.Marshal(cfg)
	if err != nil {
		return nil, Image{}, err
	}
	configDigest, configSize, err := v1.SHA256(bytes.NewReader(config))
	if err != nil {
		return nil, Image{}, err
	}
	layerDesc, err := partial.Descriptor(layer)
	if err != nil {
		return nil, Image{}, err
	}
	manifest, err := newRawManifest(v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: configSize, Digest: configDigest},
		Layers:        []v1.Descriptor{*layerDesc},
	}, types.OCIManifestSchema1)
	if err != nil {
		return nil, Image{}, err
	}
	img, err := partial.CompressedToImage(&imageCore{
		rawManifest: manifest,
		config:      config,
		blobs: map[v1.Hash]partial.CompressedLayer{
			configDigest:     static.NewLayer(config, types.OCIConfigJSON),
			layerDesc.Digest: layer,
		},
	})
	if err != nil {
		return nil, Image{}, err
	}
	return img, Image{Digest: manifest.digest, ConfigDigest: configDigest, Size: int64(len(manifest.body))}, nil
}

type imageConfig struct {
	Created      *time.Time `json:"created,omitempty"`
	Architecture string     `json:"architecture"`
	OS           string     `json:"os"`
	Variant      string     `json:"variant,omitempty"`
	Config       struct {
		// A random label keeps images that share a layer and a created
		// time distinct.
		Labels map[string]string `json:"Labels"`
	} `json:"config"`
	RootFS v1.RootFS `json:"rootfs"`
}

// imageCore is the partial.CompressedImageCore behind newImage; the
// embedded rawManifest supplies RawManifest and MediaType.
type imageCore struct {
	*rawManifest
	config []byte
	blobs  map[v1.Hash]partial.CompressedLayer
}

func (c *imageCore) RawConfigFile() ([]byte, error) { return c.config, nil }

func (c *imageCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if blob, ok := c.blobs[h]; ok {
		return blob, nil
	}
	return nil, fmt.Errorf("image has no blob %s", h)
}

// rawManifest is a remote.Taggable for manifests serialised here.
type rawManifest struct {
	body      []byte
	mediaType types.MediaType
	digest    v1.Hash
}

func newRawManifest(m any, mediaType types.MediaType) (*rawManifest, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	digest, _, err := v1.SHA256(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	return &rawManifest{body: body, mediaType: mediaType, digest: digest}, nil
}

func (m *rawManifest) RawManifest() ([]byte, error)        { return m.body, nil }
func (m *rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CopyTo copies repo:tag's image (an image or a whole index, as a mirror
// does) to dst under the same digest and tag.
func (r *Registry) CopyTo(dst *Registry, repo, tag string) error {
	src, err := r.repository(repo)
	if err != nil {
		return err
	}
	to, err := dst.repository(repo)
	if err != nil {
		return err
	}
	desc, err := remote.Get(src.Tag(tag), r.remoteOptions()...)
	if err != nil {
		return err
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		return remote.WriteIndex(to.Tag(tag), idx, dst.remoteOptions()...)
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	return remote.Write(to.Tag(tag), img, dst.remoteOptions()...)
}
