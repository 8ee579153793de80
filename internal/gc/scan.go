package gc

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// inventory is what the storage holds, read in a few walks instead of the
// reference's per-manifest round trips: on object storage every stat,
// read and list is a network request.
type inventory struct {
	blobs map[digest.Digest]int64 // blob -> size of its data file
	repos []*repository           // in the order the reference GC visits them
	// manifests holds the parsed body of every manifest a repository links,
	// once per digest: content-addressed bodies are the same everywhere.
	manifests map[digest.Digest]manifestRefs
}

type repository struct {
	name      string
	revisions []digest.Digest          // linked manifests whose blob exists
	layers    []digest.Digest          // layer links whose blob exists
	tags      map[string]digest.Digest // tag -> current manifest
	// tagIndex lists, per manifest, the tags whose history names it:
	// deleting the manifest deletes those index entries too.
	tagIndex map[digest.Digest][]string
}

// manifestRefs is what marking needs from a manifest body.
type manifestRefs struct {
	references []digest.Digest // config, layers, index children: what distribution's References() returns
	subject    digest.Digest   // the manifest this one refers to (signature, SBOM), or ""
}

// scan reads the storage: one walk over blobs, one over repositories, then
// in parallel the tags' current links and the manifest bodies.
func scan(ctx context.Context, d storagedriver.StorageDriver, concurrency int) (*inventory, error) {
	inv := &inventory{blobs: map[digest.Digest]int64{}, manifests: map[digest.Digest]manifestRefs{}}
	if err := inv.walkBlobs(ctx, d); err != nil {
		return nil, fmt.Errorf("cannot list blobs: %w", err)
	}
	currentLinks, err := inv.walkRepositories(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("cannot list repositories: %w", err)
	}
	if err := inv.readTags(ctx, d, concurrency, currentLinks); err != nil {
		return nil, err
	}
	if err := inv.readManifests(ctx, d, concurrency); err != nil {
		return nil, err
	}
	return inv, nil
}

func (inv *inventory) walkBlobs(ctx context.Context, d storagedriver.StorageDriver) error {
	err := d.Walk(ctx, blobsRoot, func(fi storagedriver.FileInfo) error {
		if dg := parseBlobFile(fi.Path()); dg != "" && !fi.IsDir() {
			inv.blobs[dg] = fi.Size()
		}
		return nil
	})
	if isNotFound(err) { // a registry with manifests deleted down to nothing
		return nil
	}
	return err
}

// tagLink is a tag's current link, to be read after the walk.
type tagLink struct {
	repo *repository
	tag  string
}

// walkRepositories records every repository in the order the reference
// GC enumerates them (the order decides which layer links it deletes):
// the order their _manifests directories come up in the walk. Only those
// are repositories; like the reference, revision and layer links count
// only when their blob exists.
func (inv *inventory) walkRepositories(ctx context.Context, d storagedriver.StorageDriver) ([]tagLink, error) {
	byName := map[string]*repository{}
	get := func(name string) *repository {
		if byName[name] == nil {
			byName[name] = &repository{name: name, tags: map[string]digest.Digest{}, tagIndex: map[digest.Digest][]string{}}
		}
		return byName[name]
	}
	var links []tagLink
	err := d.Walk(ctx, repositoriesRoot, func(fi storagedriver.FileInfo) error {
		p := fi.Path()
		if fi.IsDir() {
			return inv.visitDir(p, get)
		}
		e := parseRepoFile(p)
		if e.kind == entryOther {
			return nil
		}
		r := get(e.repo)
		_, blobExists := inv.blobs[e.digest]
		switch {
		case e.kind == entryRevision && blobExists:
			r.revisions = append(r.revisions, e.digest)
		case e.kind == entryLayer && blobExists:
			r.layers = append(r.layers, e.digest)
		case e.kind == entryTagCurrent:
			links = append(links, tagLink{r, e.tag})
		}
		return nil
	})
	return links, err
}

// visitDir registers repositories when their _manifests directory shows
// up, records tag index entries (directories, which the reference deletes
// whether or not their link file is there) and skips upload directories,
// which GC never touches.
func (inv *inventory) visitDir(p string, get func(name string) *repository) error {
	rel, _ := strings.CutPrefix(p, repositoriesRoot+"/")
	parent, base := path.Split(rel)
	switch base {
	case "_uploads":
		return storagedriver.ErrSkipDir
	case "_manifests":
		inv.repos = append(inv.repos, get(strings.TrimSuffix(parent, "/")))
		return nil
	}
	if e := parseRepoFile(p + "/link"); e.kind == entryTagIndex {
		r := get(e.repo)
		r.tagIndex[e.digest] = append(r.tagIndex[e.digest], e.tag)
	}
	return nil
}

// readTags reads every tag's current link in parallel. A missing link (a
// half-deleted tag) is no tag, as for the registry.
func (inv *inventory) readTags(ctx context.Context, d storagedriver.StorageDriver, concurrency int, links []tagLink) error {
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, l := range links {
		g.Go(func() error {
			dg, err := readLink(ctx, d, path.Join(repositoriesRoot, l.repo.name, "_manifests/tags", l.tag, "current/link"))
			if isNotFound(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("cannot read tag %s:%s: %w", l.repo.name, l.tag, err)
			}
			mu.Lock()
			l.repo.tags[l.tag] = dg
			mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// readManifests parses each linked manifest once. A manifest that cannot
// be read or parsed stops the run before anything is deleted, as in the
// reference: marking without it could sweep blobs it needs.
func (inv *inventory) readManifests(ctx context.Context, d storagedriver.StorageDriver, concurrency int) error {
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	seen := map[digest.Digest]bool{}
	for _, r := range inv.repos {
		for _, dg := range r.revisions {
			if seen[dg] {
				continue
			}
			seen[dg] = true
			g.Go(func() error {
				refs, err := readManifest(ctx, d, dg)
				if errors.Is(err, errUnclassified) {
					return fmt.Errorf("stopped before deleting anything: manifest %s in repository %s (stored at %s in the registry storage) is %w. "+
						"Marking without knowing what it references could delete blobs it needs: inspect that file, and if the manifest is garbage, "+
						"delete it through the registry (DELETE /v2/%s/manifests/%s) before collecting again", dg, r.name, path.Join(blobPath(dg), "data"), err, r.name, dg)
				}
				if err != nil {
					return fmt.Errorf("cannot read manifest %s (repository %s): %w", dg, r.name, err)
				}
				mu.Lock()
				inv.manifests[dg] = refs
				mu.Unlock()
				return nil
			})
		}
	}
	return g.Wait()
}

func readLink(ctx context.Context, d storagedriver.StorageDriver, p string) (digest.Digest, error) {
	content, err := d.GetContent(ctx, p)
	if err != nil {
		return "", err
	}
	return digest.Parse(strings.TrimSpace(string(content)))
}

// readManifest reads a manifest body and classifies it (classify.go).
func readManifest(ctx context.Context, d storagedriver.StorageDriver, dg digest.Digest) (manifestRefs, error) {
	body, err := d.GetContent(ctx, path.Join(blobPath(dg), "data"))
	if err != nil {
		return manifestRefs{}, err
	}
	return parseManifest(body)
}

func isNotFound(err error) bool {
	var notFound storagedriver.PathNotFoundError
	return errors.As(err, &notFound)
}
