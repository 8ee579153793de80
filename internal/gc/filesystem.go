package gc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// fsStorage is distribution's filesystem driver with deletion that knows
// the layout. The driver's Delete stats a path, then os.RemoveAll tries
// to remove it, opens it, lists it and removes what is inside: a dozen
// system calls for a blob or link directory that holds one file. Knowing
// the file, two do: unlink the file, remove the directory. When the
// directory holds anything else (it is not empty then) the driver's
// Delete removes it all, as the reference's would: the files left are
// the same either way.
type fsStorage struct {
	storagedriver.StorageDriver
	root string // the driver's rootdirectory
}

// newFSStorage wraps driver, opened from params, reading the root
// directory as the driver does (filesystem.FromParameters).
func newFSStorage(driver storagedriver.StorageDriver, params map[string]any) *fsStorage {
	root := "/var/lib/registry" // the driver's default
	if v, ok := params["rootdirectory"]; ok {
		root = fmt.Sprint(v)
	}
	return &fsStorage{StorageDriver: driver, root: root}
}

// deleteKnown deletes del.path. Not found is no error.
func (s *fsStorage) deleteKnown(ctx context.Context, del deletion) error {
	target := filepath.Join(s.root, filepath.FromSlash(del.path))
	if del.file != "" {
		// An error here (no such file, say) shows as the directory not
		// being empty next, and the driver's Delete has the last word.
		_ = os.Remove(filepath.Join(target, del.file))
	}
	err := os.Remove(target)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := s.Delete(ctx, del.path); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}
