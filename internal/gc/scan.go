package gc

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// inventory is what the storage holds, read in parallel walks instead of
// the reference's sequential walk and per-manifest round trips: on object
// storage every stat, read and list is a network request.
type inventory struct {
	blobs blobTable
	repos []*repository // in the order the reference GC visits them
	// manifests holds what every manifest a repository links references,
	// once per digest: content-addressed bodies are the same everywhere.
	manifests map[blobID]manifestBlobs
	// unexpected holds every file the layout does not account for and the
	// directories above it. Deleting a directory by the one file the
	// layout puts there (sweep.go, on S3) is exact only where none is.
	unexpected map[string]bool
	// graced maps repositories to the manifests the journal records as
	// deleted there within the grace, whose blobs the storage holds;
	// pruned lists the journal's chunks older than it (grace.go).
	graced map[string][]blobID
	pruned []journalChunk
}

type repository struct {
	name      string
	revisions []blobID          // linked manifests whose blob exists
	layers    []blobID          // layer links whose blob exists
	tags      map[string]blobID // tag -> current manifest, when its blob exists
	// tagIndex lists, per manifest, the tags whose history names it:
	// deleting the manifest deletes those index entries too.
	tagIndex map[blobID][]string
	// currentLinks are the tags whose current link the scan reads after
	// the walks.
	currentLinks []string
}

func newRepository(name string) *repository {
	return &repository{name: name, tags: map[string]blobID{}, tagIndex: map[blobID][]string{}}
}

// noBlob is the subject of a manifest that has none.
const noBlob blobID = -1

// manifestBlobs is what marking needs from a manifest, among the blobs
// the storage holds.
type manifestBlobs struct {
	references []blobID // config, layers, index children: what distribution's References() returns
	subject    blobID   // the manifest this one refers to (signature, SBOM), or noBlob
}

// scan reads the storage: the blobs, one walk per prefix directory
// (sha256/00 to ff), while the repositories are listed; then the
// repositories, a walk each (their tags only withTags, which a run
// deleting untagged manifests sets); then, with withTags, the tags'
// current links; then the manifest bodies. Each step runs at most
// concurrency requests at once (the first two, side by side, twice that),
// and reports to progress when it ends: on object storage a scan of a
// large store takes minutes, and which step takes them says where to look.
func scan(ctx context.Context, d storagedriver.StorageDriver, concurrency int, withTags bool, progress func(string)) (*inventory, error) {
	inv := &inventory{blobs: newBlobTable(), manifests: map[blobID]manifestBlobs{}, unexpected: map[string]bool{}, graced: map[string][]blobID{}}
	walk := newWalker(d, withTags)
	var walks []repositoryWalk
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := inv.walkBlobs(gctx, walk, concurrency); err != nil {
			return fmt.Errorf("cannot list blobs: %w", err)
		}
		progress(fmt.Sprintf("listed %d blobs", inv.blobs.len()))
		return nil
	})
	g.Go(func() (err error) {
		if walks, err = repositoryWalks(gctx, d, concurrency); err != nil {
			return fmt.Errorf("cannot list repositories: %w", err)
		}
		progress(fmt.Sprintf("split the repositories into %d walks", len(walks)))
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Links count only when their blob exists, as for the reference: the
	// repository walks need every blob known.
	if err := inv.walkRepositories(ctx, walk, concurrency, walks); err != nil {
		return nil, fmt.Errorf("cannot list repositories: %w", err)
	}
	progress(fmt.Sprintf("listed the links of %d repositories", len(inv.repos)))
	if withTags {
		tags, err := inv.readTags(ctx, d, concurrency)
		if err != nil {
			return nil, err
		}
		progress(fmt.Sprintf("read %d tag links", tags))
	}
	if err := inv.readManifests(ctx, d, concurrency); err != nil {
		return nil, err
	}
	progress(fmt.Sprintf("read %d manifests", len(inv.manifests)))
	return inv, nil
}

// walkBlobs lists every blob prefix directory in parallel, by name: the
// data files are read later, and only those of the blobs to delete
// (blobTable, check.go).
func (inv *inventory) walkBlobs(ctx context.Context, walk walker, concurrency int) error {
	algorithms, err := listDirectory(ctx, walk.d, blobsRoot)
	if err != nil {
		return err
	}
	below, err := listEach(ctx, walk.d, concurrency, algorithms)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, prefix := range slices.Concat(below...) {
		g.Go(func() error {
			children, err := listDirectory(ctx, walk.d, prefix)
			if err != nil {
				return err
			}
			mu.Lock() // once per listing, not per blob
			defer mu.Unlock()
			var others []string
			for _, dir := range children {
				if dg := parseBlobFile(dir + "/data"); dg != "" {
					inv.blobs.add(dg, unchecked)
				} else {
					others = append(others, dir)
				}
			}
			inv.noteUnexpected(others)
			return nil
		})
	}
	return g.Wait()
}

// repositoryWalk is a part of the repositories tree walked on its own:
// a directory and everything below it, or with ownOnly a repository
// without the repositories below it, which are walks of their own.
type repositoryWalk struct {
	root    string
	ownOnly bool
}

// repositoryWalks splits the repositories tree into walks that can run
// in parallel: each directory two levels down (team/app, or a namespace
// above deeper repositories) and each repository one level down (app).
// Like the reference, which enumerates repositories by their _manifests
// directory, it skips directories named _something where a repository
// name could be.
func repositoryWalks(ctx context.Context, d storagedriver.StorageDriver, concurrency int) ([]repositoryWalk, error) {
	children, err := listDirectory(ctx, d, repositoriesRoot)
	if err != nil {
		return nil, err
	}
	top := slices.DeleteFunc(children, isInternal)
	below, err := listEach(ctx, d, concurrency, top)
	if err != nil {
		return nil, err
	}
	var walks []repositoryWalk
	for i, dir := range top {
		for _, child := range below[i] {
			switch {
			case path.Base(child) == "_manifests":
				walks = append(walks, repositoryWalk{root: dir, ownOnly: true})
			case !isInternal(child):
				walks = append(walks, repositoryWalk{root: child})
			}
		}
	}
	return walks, nil
}

// isInternal says whether p names a directory of a repository's own
// (_manifests, _layers, _uploads): repository name components never
// start with an underscore.
func isInternal(p string) bool { return strings.HasPrefix(path.Base(p), "_") }

// walkRepositories runs the repository walks in parallel, then orders the
// repositories found as the reference enumerates them: the order decides
// which layer links it deletes.
func (inv *inventory) walkRepositories(ctx context.Context, walk walker, concurrency int, walks []repositoryWalk) error {
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, w := range walks {
		g.Go(func() error {
			c := repositoryCollector{blobs: &inv.blobs, walk: w, byName: map[string]*repository{}}
			if err := walk.repositories(ctx, w.root, c.visit); err != nil {
				return err
			}
			mu.Lock() // once per walk, not per file
			defer mu.Unlock()
			inv.repos = append(inv.repos, c.repos...)
			inv.noteUnexpected(c.others)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	sortRepositories(inv.repos, walk.d.Name())
	return nil
}

// repositoryCollector gathers what one repository walk finds. It only
// reads the blob table, which is complete before the walks start.
type repositoryCollector struct {
	blobs  *blobTable
	walk   repositoryWalk
	byName map[string]*repository
	repos  []*repository // those with a _manifests directory: the others are not repositories
	others []string      // files the layout does not account for
}

func (c *repositoryCollector) get(name string) *repository {
	if c.byName[name] == nil {
		c.byName[name] = newRepository(strings.Clone(name))
	}
	return c.byName[name]
}

func (c *repositoryCollector) visit(fi storagedriver.FileInfo) error {
	p := fi.Path()
	if fi.IsDir() {
		return c.visitDir(p)
	}
	e := parseRepoFile(p)
	if e.kind == entryOther {
		c.others = append(c.others, p)
		return nil
	}
	r := c.get(e.repo)
	id, blobExists := c.blobs.lookup(e.digest)
	switch {
	case e.kind == entryRevision && blobExists:
		r.revisions = append(r.revisions, id)
	case e.kind == entryLayer && blobExists:
		r.layers = append(r.layers, id)
	case e.kind == entryTagCurrent:
		r.currentLinks = append(r.currentLinks, strings.Clone(e.tag))
	}
	return nil
}

// visitDir registers repositories when their _manifests directory shows
// up, records tag index entries (directories, which the reference deletes
// whether or not their link file is there) and skips upload directories,
// which GC never touches, and the repositories that other walks cover.
func (c *repositoryCollector) visitDir(p string) error {
	parent, base := path.Split(p)
	switch {
	case base == "_uploads":
		return storagedriver.ErrSkipDir
	case c.walk.ownOnly && strings.TrimSuffix(parent, "/") == c.walk.root && !isInternal(p):
		return storagedriver.ErrSkipDir
	case base == "_manifests":
		name, _ := strings.CutPrefix(strings.TrimSuffix(parent, "/"), repositoriesRoot+"/")
		c.repos = append(c.repos, c.get(name))
		return nil
	}
	if e := parseRepoFile(p + "/link"); e.kind == entryTagIndex {
		if id, ok := c.blobs.lookup(e.digest); ok {
			r := c.get(e.repo)
			r.tagIndex[id] = append(r.tagIndex[id], strings.Clone(e.tag))
		}
	}
	return nil
}

// noteUnexpected records files the layout does not account for, and the
// directories above them.
func (inv *inventory) noteUnexpected(files []string) {
	for _, f := range files {
		for p := f; p != "/" && !inv.unexpected[p]; p = path.Dir(p) {
			inv.unexpected[p] = true
		}
	}
}

// readTags reads every tag's current link in parallel. A missing link (a
// half-deleted tag) is no tag, as for the registry. It returns how many
// links it read.
func (inv *inventory) readTags(ctx context.Context, d storagedriver.StorageDriver, concurrency int) (int, error) {
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	links := 0
	for _, r := range inv.repos {
		links += len(r.currentLinks)
		for _, tag := range r.currentLinks {
			g.Go(func() error {
				dg, err := readLink(ctx, d, path.Join(repositoriesRoot, r.name, "_manifests/tags", tag, "current/link"))
				if isNotFound(err) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("cannot read tag %s:%s: %w", r.name, tag, err)
				}
				if id, ok := inv.blobs.lookup(dg); ok { // a tag on a missing manifest keeps nothing
					mu.Lock()
					r.tags[tag] = id
					mu.Unlock()
				}
				return nil
			})
		}
	}
	err := g.Wait()
	for _, r := range inv.repos {
		r.currentLinks = nil
	}
	return links, err
}

// readManifests parses each linked manifest once. A manifest that cannot
// be read or parsed stops the run before anything is deleted, as in the
// reference: marking without it could sweep blobs it needs. One whose
// data file is not there is no manifest: the reference skips a link to a
// missing blob, and so do the repositories here (the check before the
// sweep makes sure it is still missing then).
func (inv *inventory) readManifests(ctx context.Context, d storagedriver.StorageDriver, concurrency int) error {
	if err := inv.parseManifests(ctx, d, concurrency); err != nil {
		return err
	}
	for _, r := range inv.repos {
		r.revisions = slices.DeleteFunc(r.revisions, func(id blobID) bool { return inv.blobs.size(id) == noData })
	}
	return nil
}

func (inv *inventory) parseManifests(ctx context.Context, d storagedriver.StorageDriver, concurrency int) error {
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	seen := map[blobID]bool{}
	for _, r := range inv.repos {
		for _, id := range r.revisions {
			if seen[id] {
				continue
			}
			seen[id] = true
			g.Go(func() error {
				dg := inv.blobs.digest(id)
				refs, err := readManifest(ctx, d, dg)
				if isNotFound(err) {
					mu.Lock()
					inv.blobs.setSize(id, noData)
					mu.Unlock()
					return nil
				}
				if errors.Is(err, errUnclassified) {
					return fmt.Errorf("stopped before deleting anything: manifest %s in repository %s (stored at %s in the registry storage) is %w. "+
						"Marking without knowing what it references could delete blobs it needs: inspect that file, and if the manifest is garbage, "+
						"delete it through the registry (DELETE /v2/%s/manifests/%s) before collecting again", dg, r.name, path.Join(blobPath(dg), "data"), err, r.name, dg)
				}
				if err != nil {
					return fmt.Errorf("cannot read manifest %s (repository %s): %w", dg, r.name, err)
				}
				m := manifestBlobs{references: inv.blobs.lookupAll(refs.references), subject: noBlob}
				if id, ok := inv.blobs.lookup(refs.subject); ok {
					m.subject = id
				}
				mu.Lock()
				inv.manifests[id] = m
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
