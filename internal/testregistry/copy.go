package testregistry

import (
	"context"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

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
