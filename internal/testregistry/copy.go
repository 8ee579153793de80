package testregistry

import (
	"context"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
)

// OpenStorage opens a store with distribution's storage driver, failing
// the test if it cannot. Unlike gc.Storage.Open it accepts a store that
// holds no registry data yet, such as a destination to copy into.
func OpenStorage(t testing.TB, driver string, params map[string]any) storagedriver.StorageDriver {
	t.Helper()
	d, err := factory.Create(context.Background(), driver, params)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// CopyStorage copies every file of one registry store into another,
// through their storage drivers: to start two runs from identical content,
// or to fill a store that a registry cannot write to itself (gcs on its
// emulator: the driver sends blob uploads to Google).
func CopyStorage(ctx context.Context, src, dst storagedriver.StorageDriver) error {
	return src.Walk(ctx, "/", func(fi storagedriver.FileInfo) error {
		if fi.IsDir() {
			return nil
		}
		content, err := src.GetContent(ctx, fi.Path())
		if err != nil {
			return err
		}
		return dst.PutContent(ctx, fi.Path(), content)
	})
}
