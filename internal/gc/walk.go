package gc

import (
	"context"
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
