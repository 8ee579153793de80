package gc

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"golang.org/x/sync/errgroup"
)

// listDirectory lists dir's children. A dir that does not exist has
// none (a registry with nothing pushed yet, or deleted down to nothing),
// nor has a file: storage drivers list what may be either.
func listDirectory(ctx context.Context, d storagedriver.StorageDriver, dir string) ([]string, error) {
	children, err := d.List(ctx, dir)
	if err == nil || isNotFound(err) {
		return children, nil
	}
	if isFile(ctx, d, dir) {
		return nil, nil
	}
	return nil, err
}

// listEach lists each of dirs, in parallel: the children of dirs[i] are
// at [i].
func listEach(ctx context.Context, d storagedriver.StorageDriver, concurrency int, dirs []string) ([][]string, error) {
	children := make([][]string, len(dirs))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for i, dir := range dirs {
		g.Go(func() (err error) {
			children[i], err = listDirectory(ctx, d, dir)
			return err
		})
	}
	return children, g.Wait()
}

// walkTree walks root, which a listing returned: a root that is gone is
// empty, and one that is a file is visited alone (walking a file fails on
// some drivers).
func walkTree(ctx context.Context, d storagedriver.StorageDriver, root string, visit storagedriver.WalkFn) error {
	err := d.Walk(ctx, root, visit)
	if err == nil || isNotFound(err) {
		return nil
	}
	if fi, statErr := d.Stat(ctx, root); statErr == nil && !fi.IsDir() {
		return visit(fi)
	}
	return err
}

func isFile(ctx context.Context, d storagedriver.StorageDriver, p string) bool {
	fi, err := d.Stat(ctx, p)
	return err == nil && !fi.IsDir()
}

// sortRepositories puts repositories in the order a walk of the
// repositories tree by driver finds their _manifests directories, which
// is the order the reference visits them in. Drivers walk in one of two
// orders: S3's lists every key in byte order, so "app-x/_manifests" comes
// before "app/_manifests" ('-' sorts before '/'); the others (filesystem,
// GCS, Azure) walk depth first, each directory's children sorted, so
// "app" and all below it come before "app-x", as if '/' sorted first.
func sortRepositories(repos []*repository, driverName string) {
	separator := "\x00" // sorts before any byte of a name
	if driverName == "s3aws" {
		separator = "/"
	}
	key := func(r *repository) string { return strings.ReplaceAll(r.name+"/_manifests", "/", separator) }
	slices.SortFunc(repos, func(a, b *repository) int { return strings.Compare(key(a), key(b)) })
}

// walker visits the files and directories of the storage that a run
// reads, as storagedriver.StorageDriver.Walk does: blob data files below
// a blob prefix directory or in a blob's directory; below a repository
// directory, _manifests directories, revision and layer links and, when
// deleting untagged manifests, tags' current links and tag index entry
// directories. A directory for which visit returns
// storagedriver.ErrSkipDir is not descended.
//
// It lists the directories the layout defines down to those it fills with
// blobs or links (a blob prefix directory, _layers, _manifests/revisions,
// _manifests/tags), and visits what is below each of those (below).
// Nothing else is read: not the _uploads directories, which GC never
// touches (a registry's abandoned uploads can be most of its files), and
// not the tags unless deleteUntagged (without --delete-untagged every
// linked manifest is kept whatever its tags: on S3 that is two fifths of
// the keys under a repository at the bench's shape, a fifth of the scan's
// time).
type walker struct {
	d storagedriver.StorageDriver
	// listsKeys is S3's: one listing returns every key below a path.
	listsKeys      bool
	deleteUntagged bool
}

func newWalker(d storagedriver.StorageDriver, deleteUntagged bool) walker {
	return walker{d: d, listsKeys: d.Name() == "s3aws", deleteUntagged: deleteUntagged}
}

// blobs visits the blobs of a prefix directory (sha256/ab).
func (w walker) blobs(ctx context.Context, prefix string, visit storagedriver.WalkFn) error {
	return w.below(ctx, prefix, visit)
}

// blob visits the data file of one blob's directory and, on S3, every
// other file there (below).
func (w walker) blob(ctx context.Context, dir string, visit storagedriver.WalkFn) error {
	if w.listsKeys {
		return walkTree(ctx, w.d, dir, visit)
	}
	return visitFile(ctx, w.d, dir, dir+"/data", visit)
}

// repositories visits dir, a repository or a namespace, and the
// repositories below it. Only entries of a listing are listed or stat'ed
// below: any of them may be a file where the layout has a directory.
func (w walker) repositories(ctx context.Context, dir string, visit storagedriver.WalkFn) error {
	return forEachChild(ctx, w.d, dir, func(child string) error {
		if err := visit(directoryInfo(child)); errors.Is(err, storagedriver.ErrSkipDir) {
			return nil
		} else if err != nil {
			return err
		}
		switch base := path.Base(child); {
		case base == "_manifests":
			return forEachChild(ctx, w.d, child, func(kind string) error {
				switch path.Base(kind) {
				case "revisions":
					return w.below(ctx, kind, visit)
				case "tags":
					if w.deleteUntagged {
						return w.below(ctx, kind, visit)
					}
				}
				return nil
			})
		case base == "_layers":
			return w.below(ctx, child, visit)
		case !isInternal(child):
			return w.repositories(ctx, child, visit)
		}
		return nil
	})
}

// below visits what is below dir, a directory the layout fills with
// blobs or links.
//
// S3's Walk is one listing of every key below a path, sizes included, and
// shows the files the layout does not account for, which batch deletion
// must know of in a directory it deletes (sweep.go): blob directories,
// and with --delete-untagged revision and tag index entry directories.
// Elsewhere on S3 a listing by directory (S3's delimiter) is enough and
// costs the server a third as much: it names each <hex> directory without
// reading the link file below it. Layer links are deleted one file at a
// time, and revision links are never deleted without --delete-untagged.
// Such a listing takes a directory holding anything for a link: a revision
// directory that lost its link file keeps its manifest's blobs (kept, where
// the reference would delete them); a layer link directory that lost its
// link file is a link whose deletion deletes nothing.
//
// The other drivers' Walk (filesystem, GCS, Azure:
// storagedriver.WalkFallback) lists every directory and stats every entry,
// a system call or a request each: layoutBelow lists only the directories
// the layout defines and stats only its files, a few times fewer.
func (w walker) below(ctx context.Context, dir string, visit storagedriver.WalkFn) error {
	switch base := path.Base(dir); {
	case !w.listsKeys:
		return layoutBelow(ctx, w.d, dir, visit)
	case base == "_layers", base == "revisions" && !w.deleteUntagged:
		return visitListedLinks(ctx, w.d, dir, visit)
	}
	return walkTree(ctx, w.d, dir, visit)
}

// visitListedLinks visits dir/<algorithm>/<hex>/link for each <hex>
// directory listed, without reading or stat'ing the link file.
func visitListedLinks(ctx context.Context, d storagedriver.StorageDriver, dir string, visit storagedriver.WalkFn) error {
	return forEachChild(ctx, d, dir, func(algorithm string) error {
		return forEachChild(ctx, d, algorithm, func(entry string) error {
			return visit(storagedriver.FileInfoInternal{FileInfoFields: storagedriver.FileInfoFields{Path: entry + "/link"}})
		})
	})
}

// layoutBelow visits what walkTree would below dir, a directory the
// layout fills with blobs or links, as far as the scan reads it.
func layoutBelow(ctx context.Context, d storagedriver.StorageDriver, dir string, visit storagedriver.WalkFn) error {
	switch path.Base(dir) {
	case "_layers", "revisions":
		return visitLinks(ctx, d, dir, visit)
	case "tags":
		return forEachChild(ctx, d, dir, func(tag string) error { return layoutWalkTag(ctx, d, tag, visit) })
	}
	return visitEach(ctx, d, dir, "data", visit) // a blob prefix directory
}

// layoutWalkTag visits a tag's current link and its index entries.
func layoutWalkTag(ctx context.Context, d storagedriver.StorageDriver, tag string, visit storagedriver.WalkFn) error {
	return forEachChild(ctx, d, tag, func(child string) error {
		switch path.Base(child) {
		case "current":
			return visitFile(ctx, d, child, child+"/link", visit)
		case "index":
			return forEachChild(ctx, d, child, func(algorithm string) error {
				return forEachChild(ctx, d, algorithm, func(entry string) error {
					if err := visit(directoryInfo(entry)); !errors.Is(err, storagedriver.ErrSkipDir) {
						return err
					}
					return nil
				})
			})
		}
		return nil
	})
}

// visitLinks visits the link files of dir/<algorithm>/<hex>/link.
func visitLinks(ctx context.Context, d storagedriver.StorageDriver, dir string, visit storagedriver.WalkFn) error {
	return forEachChild(ctx, d, dir, func(algorithm string) error { return visitEach(ctx, d, algorithm, "link", visit) })
}

// visitEach visits the file named name in each directory below dir.
func visitEach(ctx context.Context, d storagedriver.StorageDriver, dir, name string, visit storagedriver.WalkFn) error {
	return forEachChild(ctx, d, dir, func(child string) error { return visitFile(ctx, d, child, child+"/"+name, visit) })
}

// forEachChild calls f with each entry of dir's listing, stopping at the
// first error.
func forEachChild(ctx context.Context, d storagedriver.StorageDriver, dir string, f func(child string) error) error {
	children, err := listDirectory(ctx, d, dir)
	if err != nil {
		return err
	}
	for _, child := range children {
		if err := f(child); err != nil {
			return err
		}
	}
	return nil
}

// visitFile visits the file at p, if there is one. p is below listed,
// an entry of a listing, which may be a file where the layout has a
// directory: nothing is below it then, whatever error the driver gives.
func visitFile(ctx context.Context, d storagedriver.StorageDriver, listed, p string, visit storagedriver.WalkFn) error {
	fi, err := d.Stat(ctx, p)
	switch {
	case isNotFound(err):
		return nil
	case err != nil:
		if isFile(ctx, d, listed) {
			return nil
		}
		return err
	case fi.IsDir():
		return nil
	}
	return visit(fi)
}

func directoryInfo(p string) storagedriver.FileInfo {
	return storagedriver.FileInfoInternal{FileInfoFields: storagedriver.FileInfoFields{Path: p, IsDir: true}}
}
