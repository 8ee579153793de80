package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// Manifest describes one manifest as the provider needs it.
type Manifest struct {
	Digest    string
	MediaType string
	Size      int64
	// Created is the image config's created time; for an index, its newest
	// child's. Zero when unknown (absent, the 1970 epoch, or not an image).
	Created time.Time
	// Platforms lists an index's children in manifest order.
	Platforms []Platform
	// Subject is the digest this manifest refers to (signatures, SBOMs).
	Subject string
	// Blobs are what the manifest holds besides its own body, as its body
	// says: an image's config and layers; an index's children and theirs.
	// Only when the body was read.
	Blobs []retention.Blob `json:",omitempty"`
	// Incomplete says which part of the image the registry does not hold
	// (a child manifest, a config blob), when its body was read and one is
	// missing. Its age is then unknown: the missing part could have been
	// its newest.
	Incomplete string `json:",omitempty"`
}

// IsIndex reports whether the manifest is a multi-platform index.
func (m Manifest) IsIndex() bool { return types.MediaType(m.MediaType).IsIndex() }

// Platform is one child of an index.
type Platform struct {
	OS           string
	Architecture string
	Variant      string
	Digest       string
}

// Tagged is a tag and the manifest it points at.
type Tagged struct {
	Tag string
	Manifest
}

// Resolve returns the digest, media type and size a tag or digest points
// at, using a HEAD with every manifest media type in Accept (distribution
// 2.8 otherwise answers with a schema1 digest).
func (c *Client) Resolve(ctx context.Context, repo, reference string) (Manifest, error) {
	ref, err := c.reference(repo, reference)
	if err != nil {
		return Manifest{}, err
	}
	desc, err := c.puller.Head(ctx, ref)
	if err != nil {
		return Manifest{}, c.translate("resolving "+shortRef(ref), repo, needPull, err)
	}
	return Manifest{Digest: desc.Digest.String(), MediaType: string(desc.MediaType), Size: desc.Size}, nil
}

// Describe fetches the manifest a tag or digest points at with one GET and
// fills in Created (one config blob per image, each fetched once per client)
// and an index's platforms.
func (c *Client) Describe(ctx context.Context, repo, reference string) (Manifest, error) {
	ref, err := c.reference(repo, reference)
	if err != nil {
		return Manifest{}, err
	}
	m, err := c.describe(ctx, ref)
	return m, c.translate("reading "+shortRef(ref), repo, needPull, err)
}

// DescribeTags describes every tag of repo in parallel; the result is in
// the order of tags.
func (c *Client) DescribeTags(ctx context.Context, repo string, tags []string) ([]Tagged, error) {
	out := make([]Tagged, len(tags))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(c.concurrency)
	for i, tag := range tags {
		g.Go(func() error {
			m, err := c.Describe(ctx, repo, tag)
			out[i] = Tagged{Tag: tag, Manifest: m}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	described := make([]Manifest, len(out))
	for i, t := range out {
		described[i] = t.Manifest
	}
	c.packs.remember(repo, described, false) // tags may be a part of the repository
	return out, nil
}

func (c *Client) tagRef(repo, tag string) (name.Tag, error) {
	r, err := c.repository(repo)
	if err != nil {
		return name.Tag{}, err
	}
	if err := ValidateTag(tag); err != nil {
		return name.Tag{}, err
	}
	return r.Tag(tag), nil
}

// tagGrammar is the distribution spec's tag grammar; ggcr's own check lets
// a leading '.' or '-' through.
var tagGrammar = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)

// ValidateTag checks a tag name against the distribution spec's grammar.
func ValidateTag(tag string) error {
	if !tagGrammar.MatchString(tag) {
		return fmt.Errorf("%q is not a valid tag: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'", tag)
	}
	return nil
}

// reference parses a tag or a digest within repo.
func (c *Client) reference(repo, reference string) (name.Reference, error) {
	if IsDigest(reference) {
		r, err := c.repository(repo)
		return r.Digest(reference), err
	}
	return c.tagRef(repo, reference)
}

func (c *Client) describe(ctx context.Context, ref name.Reference) (Manifest, error) {
	desc, err := c.puller.Get(ctx, ref)
	if err != nil {
		return Manifest{}, err
	}
	// Every tag on the same digest shares this work, in this run and, via
	// the disk cache, in later ones.
	digest := desc.Digest.String()
	return c.manifests.get(digest, func() (Manifest, error) {
		if m, ok := c.packs.of(ref.Context().RepositoryStr())[digest]; ok && m.agreesWith(string(desc.MediaType), desc.Size) {
			return m, nil
		}
		return c.describeBody(ctx, ref.Context(), desc)
	})
}

func (c *Client) describeBody(ctx context.Context, repo name.Repository, desc *remote.Descriptor) (Manifest, error) {
	m := Manifest{Digest: desc.Digest.String(), MediaType: string(desc.MediaType), Size: desc.Size}
	// The body is here: a snapshot needs no second GET for its links.
	_, _ = c.links.get(m.Digest, func() (links, error) { return parseLinks(m.Digest, desc.MediaType, desc.Manifest) })
	switch {
	case desc.MediaType.IsIndex():
		return m, c.describeIndex(ctx, repo, desc.Manifest, &m)
	case desc.MediaType.IsImage():
		return m, c.describeImage(ctx, repo, desc.Manifest, &m)
	default:
		return m, nil // schema1 and unknown types: nothing more to learn
	}
}

func (c *Client) describeImage(ctx context.Context, repo name.Repository, body []byte, m *Manifest) error {
	mf, err := v1.ParseManifest(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("parsing manifest %s: %w", m.Digest, err)
	}
	if mf.Subject != nil {
		m.Subject = mf.Subject.Digest.String()
	}
	for _, d := range append([]v1.Descriptor{mf.Config}, mf.Layers...) {
		m.Blobs = append(m.Blobs, retention.Blob{Digest: d.Digest.String(), Size: d.Size})
	}
	if !mf.Config.MediaType.IsConfig() {
		return nil // an artifact (signature, SBOM): its config carries no created time
	}
	m.Created, err = c.configCreated(ctx, repo, mf.Config.Digest)
	if isAbsent(err) {
		m.Incomplete = "config blob " + mf.Config.Digest.String() + " is missing"
		return nil
	}
	return err
}

func (c *Client) describeIndex(ctx context.Context, repo name.Repository, body []byte, m *Manifest) error {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("parsing index %s: %w", m.Digest, err)
	}
	if idx.Subject != nil {
		m.Subject = idx.Subject.Digest.String()
	}
	children := make([]Manifest, len(idx.Manifests))
	g, gctx := errgroup.WithContext(ctx)
	for i, child := range idx.Manifests {
		m.Platforms = append(m.Platforms, platformOf(child))
		if !child.MediaType.IsImage() {
			continue
		}
		g.Go(func() error {
			var err error
			children[i], err = c.describe(gctx, repo.Digest(child.Digest.String()))
			if isAbsent(err) {
				children[i].Incomplete = "the manifest is missing"
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, child := range children {
		if child.Incomplete != "" && m.Incomplete == "" {
			m.Incomplete = "child " + idx.Manifests[i].Digest.String() + ": " + child.Incomplete
		}
		if child.Created.After(m.Created) {
			m.Created = child.Created
		}
		m.Blobs = append(m.Blobs, retention.Blob{Digest: idx.Manifests[i].Digest.String(), Size: idx.Manifests[i].Size})
		m.Blobs = append(m.Blobs, child.Blobs...)
	}
	if m.Incomplete != "" {
		m.Created = time.Time{} // the missing part could be the newest
	}
	return nil
}

func platformOf(child v1.Descriptor) Platform {
	p := Platform{Digest: child.Digest.String()}
	if child.Platform != nil {
		p.OS, p.Architecture, p.Variant = child.Platform.OS, child.Platform.Architecture, child.Platform.Variant
	}
	return p
}

// configCreated fetches an image config blob (once per digest: blobs are
// immutable) and returns its created time, zero when absent or the epoch.
func (c *Client) configCreated(ctx context.Context, repo name.Repository, digest v1.Hash) (time.Time, error) {
	return c.configs.get(digest.String(), func() (time.Time, error) {
		layer, err := c.puller.Layer(ctx, repo.Digest(digest.String()))
		if err != nil {
			return time.Time{}, err
		}
		rc, err := layer.Compressed()
		if err != nil {
			return time.Time{}, err
		}
		defer rc.Close()
		raw, err := io.ReadAll(io.LimitReader(rc, maxConfigSize))
		if err != nil {
			return time.Time{}, err
		}
		cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
		if err != nil {
			return time.Time{}, fmt.Errorf("parsing image config %s: %w", digest, err)
		}
		return knownTime(cfg.Created.Time), nil
	})
}

// maxConfigSize bounds a config blob read; real ones are a few KiB.
const maxConfigSize = 8 << 20

// knownTime maps "no date" encodings (zero, the Unix epoch that
// reproducible builds use) to the zero time, meaning unknown age.
func knownTime(t time.Time) time.Time {
	if t.Unix() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}

// Exists reports whether a tag or digest exists in repo; a repository that
// does not exist holds nothing.
func (c *Client) Exists(ctx context.Context, repo, reference string) (bool, error) {
	_, err := c.Resolve(ctx, repo, reference)
	if IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// shortRef names a reference without the registry host, which the user
// configured once and which only makes messages longer.
func shortRef(ref name.Reference) string {
	return strings.TrimPrefix(ref.String(), ref.Context().RegistryStr()+"/")
}
