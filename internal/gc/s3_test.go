package gc

import (
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

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
	storage := Storage{Driver: "s3", Parameters: m.S3Parameters("registry", "/store")}
	checkSweep(t, storage, 1001, func(d storagedriver.StorageDriver) bool { _, ok := d.(batchDeleter); return ok })
}
