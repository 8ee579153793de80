package registry

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
)

// Snapshot is what every tag of a repository points at, at one moment,
// with the children of every tagged index: enough to tell which tags a
// digest deletion takes along and which manifests are still referenced.
type Snapshot struct {
	Repository string
	Tags       map[string]Manifest // tag -> digest, media type, size (and created, when asked)
	Children   map[string][]string // tagged index digest -> child digests
}

// Snapshot lists every tag of repo and resolves each with a HEAD, in
// parallel, then reads every tagged index once.
func (c *Client) Snapshot(ctx context.Context, repo string) (*Snapshot, error) {
	return c.snapshot(ctx, repo, c.Resolve)
}

// SnapshotWithCreated is Snapshot with creation times. A description never
// changes for a manifest digest and is kept on disk, so while every tag of
// the repository so far led to a known digest, a HEAD per tag is all it
// takes: a plan over an unchanged registry costs what Snapshot costs. From
// the first unknown digest on (at once when nothing is known), each tag is
// read with one GET instead (the body names the config and an index's
// children), and each config once. The repository's descriptions are then
// kept for the next run.
func (c *Client) SnapshotWithCreated(ctx context.Context, repo string) (*Snapshot, error) {
	known := c.packs.of(repo)
	var unknownSeen atomic.Bool
	unknownSeen.Store(len(known) == 0)
	s, err := c.snapshot(ctx, repo, func(ctx context.Context, repo, tag string) (Manifest, error) {
		if unknownSeen.Load() {
			return c.Describe(ctx, repo, tag)
		}
		m, err := c.Resolve(ctx, repo, tag)
		if err != nil {
			return Manifest{}, err
		}
		if k, ok := known[m.Digest]; ok {
			return k, nil
		}
		unknownSeen.Store(true)
		return c.Describe(ctx, repo, m.Digest)
	})
	if err != nil {
		return nil, err
	}
	c.packs.remember(repo, slices.Collect(maps.Values(s.Tags)), true)
	return s, nil
}

func (c *Client) snapshot(ctx context.Context, repo string, read func(context.Context, string, string) (Manifest, error)) (*Snapshot, error) {
	tags, err := c.Tags(ctx, repo)
	if err != nil {
		return nil, err
	}
	resolved := make([]Manifest, len(tags))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.concurrency)
	for i, tag := range tags {
		g.Go(func() error {
			m, err := read(gctx, repo, tag)
			if IsNotFound(err) {
				return nil // untagged since the listing
			}
			resolved[i] = m
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	s := &Snapshot{Repository: repo, Tags: map[string]Manifest{}, Children: map[string][]string{}}
	for i, tag := range tags {
		m := resolved[i]
		if m.Digest == "" {
			continue
		}
		s.Tags[tag] = m
		for _, p := range m.Platforms { // described indexes name their children
			s.Children[m.Digest] = appendNew(s.Children[m.Digest], p.Digest)
		}
	}
	return s, c.readIndexes(ctx, s)
}

func appendNew(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

func (c *Client) readIndexes(ctx context.Context, s *Snapshot) error {
	r, err := c.repository(s.Repository)
	if err != nil {
		return err
	}
	var indexes []string
	for _, m := range s.Tags {
		if _, known := s.Children[m.Digest]; m.IsIndex() && !known {
			s.Children[m.Digest] = nil // claimed: read once below
			indexes = append(indexes, m.Digest)
		}
	}
	kids := make([][]string, len(indexes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.concurrency)
	for i, digest := range indexes {
		g.Go(func() error {
			var err error
			kids[i], err = c.indexChildren(gctx, r.Digest(digest))
			return c.translate("reading index "+digest, s.Repository, needPull, err)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, digest := range indexes {
		s.Children[digest] = kids[i]
	}
	return nil
}

// indexChildren returns the child digests of an index, read once per
// digest for the life of the client (a digest's content never changes).
func (c *Client) indexChildren(ctx context.Context, ref name.Digest) ([]string, error) {
	return c.children.get(ref.DigestStr(), func() ([]string, error) {
		desc, err := c.puller.Get(ctx, ref)
		if err != nil {
			return nil, err
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return nil, fmt.Errorf("parsing index %s: %w", ref.DigestStr(), err)
		}
		kids := make([]string, len(idx.Manifests))
		for i, m := range idx.Manifests {
			kids[i] = m.Digest.String()
		}
		return kids, nil
	})
}

// TagsOn returns the tags pointing at digest, sorted.
func (s *Snapshot) TagsOn(digest string) []string {
	var tags []string
	for tag, m := range s.Tags {
		if m.Digest == digest {
			tags = append(tags, tag)
		}
	}
	slices.Sort(tags)
	return tags
}

// referenced returns every digest that a tag outside removed points at,
// directly or as a child of a tagged index: what must survive.
func (s *Snapshot) referenced(removed map[string]bool) map[string]bool {
	kept := map[string]bool{}
	for tag, m := range s.Tags {
		if removed[tag] {
			continue
		}
		kept[m.Digest] = true
		for _, child := range s.Children[m.Digest] {
			kept[child] = true
		}
	}
	return kept
}

// FallbackReferrerTags returns the tags that name subject in the referrers
// tag schema: "sha256-<hex>" (the OCI fallback index) and cosign's
// "sha256-<hex>.sig", ".att", ".sbom" and the like.
func (s *Snapshot) FallbackReferrerTags(subject string) []string {
	prefix := strings.Replace(subject, ":", "-", 1)
	var tags []string
	for tag := range s.Tags {
		if tag == prefix || strings.HasPrefix(tag, prefix+".") {
			tags = append(tags, tag)
		}
	}
	slices.Sort(tags)
	return tags
}
