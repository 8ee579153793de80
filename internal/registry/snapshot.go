package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// Snapshot is what every tag of a repository points at, at one moment,
// with the children of every tagged index: enough to tell which tags a
// digest deletion takes along and which manifests are still referenced.
type Snapshot struct {
	Repository string
	Tags       map[string]Manifest // tag -> digest, media type, size (and created, when asked)
	Children   map[string][]string // index digest -> child digests, for every index a tag reaches
	// Subjects maps a manifest whose body was read to the manifest it
	// refers to (OCI subject): indexes always, images when asked.
	Subjects map[string]string
	// GoneSubjects are subjects that referrer tags name and the registry
	// no longer holds.
	GoneSubjects map[string]bool
	// Unresolved are tags the listing named that resolve to nothing:
	// untagged since, or dangling (a registry can list a tag whose
	// manifest a DELETE removed while the tag was being pushed onto it).
	Unresolved map[string]bool
	read       map[string]bool // digests whose body was read
	bodies     *bodies         // bodies kept for the journal (view.go); nil: none
	changed    int             // tags an apply found new, moved or gone since it was read
	// danglingOn is, for an Unresolved tag resolved again and still
	// dangling, the digest the registry says it names (resolveInto).
	danglingOn map[string]string
	// withCreated: the tags' descriptions include created times.
	withCreated bool
}

// byDigest returns the description of each digest a tag points at.
func (s *Snapshot) byDigest() map[string]Manifest {
	out := make(map[string]Manifest, len(s.Tags))
	for _, m := range s.Tags {
		out[m.Digest] = m
	}
	return out
}

// listed reports whether the listing the snapshot was read from named tag.
func (s *Snapshot) listed(tag string) bool {
	_, resolved := s.Tags[tag]
	return resolved || s.Unresolved[tag]
}

func (s *Snapshot) markRead(digest string) {
	if s.read == nil {
		s.read = map[string]bool{}
	}
	s.read[digest] = true
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
		if k, ok := known[m.Digest]; ok && k.agreesWith(m.MediaType, m.Size) {
			return k, nil
		}
		unknownSeen.Store(true)
		return c.Describe(ctx, repo, m.Digest)
	})
	if err != nil {
		return nil, err
	}
	c.packs.remember(repo, slices.Collect(maps.Values(s.Tags)), true)
	s.withCreated = true
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
	s := &Snapshot{Repository: repo, Tags: map[string]Manifest{}, Children: map[string][]string{}, Subjects: map[string]string{}}
	for i, tag := range tags {
		m := resolved[i]
		if m.Digest == "" {
			if s.Unresolved == nil {
				s.Unresolved = map[string]bool{}
			}
			s.Unresolved[tag] = true
			continue
		}
		s.Tags[tag] = m
		if m.Subject != "" { // a subject can only protect more
			s.Subjects[m.Digest] = m.Subject
		}
	}
	return s, c.readIndexes(ctx, s)
}

// readIndexes reads the body of every tagged index, and of every index
// they list, however deep: what an index keeps alive is decided from the
// registry's own answer, never from a cached description. Then it asks
// whether the subjects of referrer tags that nothing here names still
// exist.
func (c *Client) readIndexes(ctx context.Context, s *Snapshot) error {
	var indexes []string
	for _, m := range s.Tags {
		if m.IsIndex() {
			indexes = append(indexes, m.Digest)
		}
	}
	if err := c.readIndexTree(ctx, s, indexes); err != nil {
		return err
	}
	return c.findGoneSubjects(ctx, s)
}

// readPinned reads into s what the digests deployed images pin in its
// repository link to, when no tag reaches them: a pod's imageID is often an
// index whose tag has moved on, which a snapshot does not read. It reads
// their bodies and, recursively, the indexes they list and the subjects
// they name, so that the engine sees everything they keep
// (retention.Pinned) before deciding. A digest the registry does not hold
// links nothing. Call it on a snapshot before evaluating a policy with
// images, at plan time as at apply time.
func (c *Client) readPinned(ctx context.Context, s *Snapshot, images []retention.Image) error {
	var todo []string
	var reached map[string]bool
	for _, image := range images {
		if image.Repository != s.Repository || image.Digest == "" || slices.Contains(todo, image.Digest) {
			continue
		}
		if reached == nil {
			var tagged []string
			for _, m := range s.Tags {
				tagged = append(tagged, m.Digest)
			}
			reached = s.links().Reach(tagged...)
		}
		if !reached[image.Digest] {
			todo = append(todo, image.Digest)
		}
	}
	for len(todo) > 0 {
		found, err := c.readLinks(ctx, s, todo)
		if err != nil {
			return err
		}
		todo = nil
		for _, l := range found {
			todo = append(todo, l.childIndexes...)
			if l.subject != "" {
				todo = append(todo, l.subject)
			}
		}
	}
	return nil
}

// readIndexTree reads the indexes and, recursively, the indexes they list.
func (c *Client) readIndexTree(ctx context.Context, s *Snapshot, indexes []string) error {
	for len(indexes) > 0 {
		found, err := c.readLinks(ctx, s, indexes)
		if err != nil {
			return err
		}
		indexes = nil
		for _, l := range found {
			indexes = append(indexes, l.childIndexes...)
		}
	}
	return nil
}

// readLinks reads what the manifests digests name (children, subject) into
// s, each at most once per snapshot, and returns what was newly read.
func (c *Client) readLinks(ctx context.Context, s *Snapshot, digests []string) ([]links, error) {
	r, err := c.repository(s.Repository)
	if err != nil {
		return nil, err
	}
	var todo []string
	for _, d := range digests {
		if _, done := s.read[d]; !done {
			s.markRead(d)
			todo = append(todo, d)
		}
	}
	found, err := mapParallel(ctx, c.concurrency, todo, func(ctx context.Context, digest string) (links, error) {
		l, err := c.linksOf(ctx, r.Digest(digest))
		if err = c.translate("reading manifest "+digest, s.Repository, needPull, err); IsNotFound(err) {
			// The registry says it does not exist (a child an index lists
			// but nobody pushed, or deleted since the listing): what does
			// not exist keeps nothing alive, until it is pushed (a deployed
			// digest may be): it is read again next time.
			return links{missing: true}, nil
		}
		return l, err
	})
	if err != nil {
		return nil, err
	}
	for i, digest := range todo {
		if found[i].missing {
			delete(s.read, digest)
		}
		if found[i].isIndex {
			s.Children[digest] = found[i].children
		}
		if found[i].subject != "" {
			s.Subjects[digest] = found[i].subject
		}
	}
	return found, nil
}

// links is what a manifest body says about other manifests.
type links struct {
	isIndex      bool
	children     []string // an index's manifests
	childIndexes []string // those of them that are indexes themselves
	subject      string   // the manifest a referrer (signature, SBOM) refers to
	missing      bool     // the registry does not hold the manifest
}

// linksOf reads a manifest body once per digest for the life of the client
// (a digest's content never changes). A body that is no JSON manifest links
// nothing.
func (c *Client) linksOf(ctx context.Context, ref name.Digest) (links, error) {
	return c.links.get(ref.DigestStr(), func() (links, error) {
		desc, err := c.puller.Get(ctx, ref)
		if err != nil {
			return links{}, err
		}
		return parseLinks(ref.DigestStr(), desc.MediaType, desc.Manifest)
	})
}

// rememberLinks keeps what a body read for another purpose names, so that
// linksOf needs no request for it.
func (c *Client) rememberLinks(digest string, desc *remote.Descriptor) {
	if l, err := parseLinks(digest, desc.MediaType, desc.Manifest); err == nil {
		_, _ = c.links.get(digest, func() (links, error) { return l, nil })
	}
}

func parseLinks(digest string, mediaType types.MediaType, body []byte) (links, error) {
	var m struct {
		Manifests []v1.Descriptor `json:"manifests"`
		Subject   *v1.Descriptor  `json:"subject"`
	}
	if !mediaType.IsIndex() && !mediaType.IsImage() {
		return links{}, nil // schema1 and other kinds refer to no manifest
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return links{}, fmt.Errorf("parsing manifest %s: %w", digest, err)
	}
	l := links{isIndex: mediaType.IsIndex()}
	if m.Subject != nil {
		l.subject = m.Subject.Digest.String()
	}
	if !l.isIndex {
		return l, nil
	}
	l.children = make([]string, len(m.Manifests))
	for i, child := range m.Manifests {
		l.children[i] = child.Digest.String()
		if child.MediaType.IsIndex() {
			l.childIndexes = append(l.childIndexes, child.Digest.String())
		}
	}
	return l, nil
}

// findGoneSubjects records the subjects of referrer tags ("sha256-<hex>",
// "sha256-<hex>.sig") that no tag or index here names and that the
// registry no longer holds: a HEAD each, and none at all in the usual case
// where every subject is tagged.
func (c *Client) findGoneSubjects(ctx context.Context, s *Snapshot) error {
	present := s.referenced(nil)
	var unknown []string
	for tag := range s.Tags {
		if subject, ok := retention.SubjectOf(tag); ok && !present[subject] && !slices.Contains(unknown, subject) {
			unknown = append(unknown, subject)
		}
	}
	gone, err := mapParallel(ctx, c.concurrency, unknown, func(ctx context.Context, subject string) (bool, error) {
		_, err := c.Resolve(ctx, s.Repository, subject)
		if IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		return err
	}
	for i, subject := range unknown {
		if gone[i] {
			if s.GoneSubjects == nil {
				s.GoneSubjects = map[string]bool{}
			}
			s.GoneSubjects[subject] = true
		}
	}
	return nil
}

// links is what the snapshot knows of how its manifests refer to each other.
func (s *Snapshot) links() retention.Links {
	return retention.Links{Children: s.Children, Subjects: s.Subjects}
}

// TagsOn returns the tags pointing at digest, sorted.
func (s *Snapshot) TagsOn(digest string) []string {
	var tags []string
	for name, m := range s.Tags {
		if m.Digest == digest {
			tags = append(tags, name)
		}
	}
	slices.Sort(tags)
	return tags
}

// referenced returns every digest that a tag outside removed keeps alive
// (retention.Repository.Survivors): what must survive.
func (s *Snapshot) referenced(removed map[string]bool) map[string]bool {
	return s.engineRepository().Survivors(removed)
}

// mapParallel applies f to every item, at most limit at once, and returns
// the results in the order of items; the first error cancels the rest.
func mapParallel[T, R any](ctx context.Context, limit int, items []T, f func(context.Context, T) (R, error)) ([]R, error) {
	results := make([]R, len(items))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i, item := range items {
		g.Go(func() error {
			var err error
			results[i], err = f(gctx, item)
			return err
		})
	}
	return results, g.Wait()
}
