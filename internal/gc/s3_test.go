package gc

import (
	"context"
	"testing"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// On S3 the sweep deletes exact keys in DeleteObjects batches: across a
// batch boundary (1,002 orphan blobs and as many layer links) it deletes
// exactly their keys, keeps the tagged image, and deletes a blob directory
// holding a file the layout does not account for whole, as the driver's
// Delete does.
func TestS3SweepDeletesExactKeysInBatches(t *testing.T) {
	m := testregistry.StartMinIO(t)
	if err := m.CreateBucket("registry"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	storage := Storage{Driver: "s3", Parameters: m.S3Parameters("registry", "/store")}
	files, garbage := sweepStore(1001)
	if err := putFiles(ctx, testregistry.OpenStorage(t, storage.Driver, storage.Parameters), files); err != nil {
		t.Fatal(err)
	}
	d, err := storage.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(batchDeleter); !ok {
		t.Fatalf("the s3 storage opened as %T, which deletes no batches", d)
	}
	report, err := Run(ctx, d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if report.BlobsDeleted != 1002 || report.LayerLinksDeleted != 1002 {
		t.Errorf("report = %+v, want 1,002 blobs and layer links deleted", report)
	}
	checkSwept(t, d, files, garbage)
}
