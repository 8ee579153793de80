package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// graceGC is garbage collection of reg's storage, deleting untagged
// manifests too, with the given extra attributes. The registry stays
// writable: nothing pushes during the test.
func graceGC(reg *testregistry.Registry, attributes string) string {
	return fmt.Sprintf(`
resource "registry_garbage_collection" "test" {
%s
  delete_untagged         = true
  allow_writable_registry = true
%s
}
`, filesystemStorage(reg.RootDir), attributes)
}

// restoreEverything restores all that the first apply journaled for app.
const restoreEverything = `
data "registry_journal" "app" {
  repository = "app"
}
resource "registry_restore" "all" {
  apply_id = data.registry_journal.app.entries[0].apply_id
}
`

// A policy deletes too much, then garbage collection runs with
// keep_deleted_within: it keeps what the deleted manifests need (the
// index's untagged children too) and says so, and everything comes back
// through the registry restarted after the run (a registry started on the
// same storage: no cache answers for what the run deleted) and pulls in
// full. A later run whose window the apply is out of prunes the journal.
// Without the grace (TestAccGarbageCollection_withoutGrace), the same
// restore fails.
func TestAccGarbageCollection_keepDeletedWithin(t *testing.T) {
	storageScenario(t)
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		restarted := start(testregistry.WithRootDir(reg.RootDir))
		o := pushOverDeletedApp(t, reg)
		provider := providerBlock(reg, "")
		accTest(t,
			resource.TestStep{
				Config:      provider + graceGC(reg, `  keep_deleted_within = "a week"`),
				ExpectError: errorLike(`(?s)Invalid keep_deleted_within.*"a week" is not a positive duration`),
			},
			resource.TestStep{Config: provider + tooWide, Check: expectRegistryTags(reg, "app", "stable")},
			resource.TestStep{
				Config: provider + graceGC(reg, `  keep_deleted_within = "168h"`),
				ConfigStateChecks: []statecheck.StateCheck{
					// v1, v2, the index and its two children
					statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("manifests_held_back"), knownvalue.Int64Exact(5)),
					statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("bytes_held_back"), positiveInt64{}),
					statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("journal_chunks_pruned"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("summary"),
						knownvalue.StringRegexp(regexp.MustCompile(`of 5 manifests deleted within 168h, restorable; pruned 0 journal chunks older`))),
				},
				Check: resource.ComposeTestCheckFunc(
					expectBlobOnDisk(reg.RootDir, o.first.ConfigDigest, true),
					expectBlobOnDisk(reg.RootDir, o.children[0], true),
				),
			},
			resource.TestStep{
				Config: providerBlock(restarted, "") + restoreEverything,
				Check: resource.ComposeTestCheckFunc(
					expectRegistryTags(restarted, "app", "latest", "multi", "stable", "v1", "v2"),
					expectPulls(restarted, "app", "multi", "v1", "v2", "latest"),
				),
			},
			// Out of a nanosecond's window, the apply's chunks go.
			resource.TestStep{
				Config: provider + graceGC(reg, `  keep_deleted_within = "1ns"`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("journal_chunks_pruned"), positiveInt64{}),
					statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("manifests_held_back"), knownvalue.Int64Exact(0)),
				},
				Check: resource.ComposeTestCheckFunc(
					expectRegistryTags(restarted, registry.JournalRepository),
					expectPulls(restarted, "app", "multi", "v1", "v2", "latest", "stable"),
				),
			},
		)
	})
}

// Without keep_deleted_within, garbage collection frees the deleted
// manifests' blobs and leaves the journal alone; the restore then fails
// naming them.
func TestAccGarbageCollection_withoutGrace(t *testing.T) {
	storageScenario(t)
	forEachRegistry(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		reg := start()
		restarted := start(testregistry.WithRootDir(reg.RootDir))
		o := pushOverDeletedApp(t, reg)
		provider := providerBlock(reg, "")
		accTest(t,
			resource.TestStep{Config: provider + tooWide, Check: expectRegistryTags(reg, "app", "stable")},
			resource.TestStep{
				Config: provider + graceGC(reg, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("manifests_held_back"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("bytes_held_back"), knownvalue.Int64Exact(0)),
				},
				Check: resource.ComposeTestCheckFunc(
					expectBlobOnDisk(reg.RootDir, o.first.ConfigDigest, false),
					deferred(func() resource.TestCheckFunc { return expectJournalTags(reg) }),
				),
			},
			resource.TestStep{
				Config:      providerBlock(restarted, "") + restoreEverything,
				ExpectError: errorLike(`(?s)Cannot plan the restore.*cannot come back.*blob sha256:`),
			},
		)
	})
}

// expectJournalTags checks that the journal repository still has chunks.
func expectJournalTags(reg *testregistry.Registry) resource.TestCheckFunc {
	return func(*terraform.State) error {
		tags, err := reg.Tags(registry.JournalRepository)
		if err == nil && len(tags) == 0 {
			err = fmt.Errorf("the journal has no chunks left")
		}
		return err
	}
}

// positiveInt64 is a knownvalue check for a number above zero.
type positiveInt64 struct{}

func (positiveInt64) CheckValue(v any) error {
	n, ok := v.(json.Number)
	if !ok {
		return fmt.Errorf("%v is not a number", v)
	}
	if i, err := n.Int64(); err != nil || i <= 0 {
		return fmt.Errorf("%v is not above zero", v)
	}
	return nil
}

func (positiveInt64) String() string { return "above zero" }

// The action takes keep_deleted_within and says in its progress what the
// grace held back.
func TestGarbageCollectAction_keepDeletedWithin(t *testing.T) {
	writable, readOnly, _, _ := gcGarbageRegistries(t)
	run := invokeGarbageCollect(t, context.Background(), readOnly, filesystemAttributes(writable.RootDir, map[string]tftypes.Value{
		"keep_deleted_within": tftypes.NewValue(tftypes.String, "24h"),
	}), func(string) {})
	if msg := run.errorText(); msg != "" {
		t.Fatal(msg)
	}
	for _, want := range []string{"read the journal: 0 manifests deleted within 24h", "deleted 3 blobs"} {
		if !containsPrefix(run.progress, want) {
			t.Errorf("no progress message starting %q in %q", want, run.progress)
		}
	}
	if last := run.progress[len(run.progress)-1]; !strings.Contains(last, "kept 0 blobs (0 B) of 0 manifests deleted within 24h") {
		t.Errorf("the summary %q does not tell the grace", last)
	}
}

// The same on S3 (MinIO): with keep_deleted_within, garbage collection of
// the bucket keeps what the deleted manifests need, and everything comes
// back through a registry started fresh on the bucket; without it, the
// run frees them and the restore's plan names the freed blobs.
func TestAccGarbageCollection_keepDeletedWithinOnS3(t *testing.T) {
	storageScenario(t)
	minio := testregistry.StartMinIO(t)
	for _, grace := range []bool{true, false} {
		t.Run(map[bool]string{true: "with-grace", false: "without-grace"}[grace], func(t *testing.T) {
			bucket := map[bool]string{true: "grace", false: "no-grace"}[grace]
			if err := minio.CreateBucket(bucket); err != nil {
				t.Fatal(err)
			}
			params := minio.S3Parameters(bucket, "/registry")
			reg := startRegistry(t, testregistry.WithStorage("s3", params))
			restarted := startRegistry(t, testregistry.WithStorage("s3", params))
			pushOverDeletedApp(t, reg)
			gcConfig := fmt.Sprintf(`
resource "registry_garbage_collection" "test" {
%s
  delete_untagged         = true
  allow_writable_registry = true
%s
}
`, s3Storage(params), map[bool]string{true: `  keep_deleted_within = "24h"`}[grace])
			restore := resource.TestStep{
				Config: providerBlock(restarted, "") + restoreEverything,
				Check: resource.ComposeTestCheckFunc(
					expectRegistryTags(restarted, "app", "latest", "multi", "stable", "v1", "v2"),
					expectPulls(restarted, "app", "multi", "v1", "v2", "latest"),
				),
			}
			// v1, v2, the index and its two children: all the run would free
			held, freed := knownvalue.Int64Exact(5), knownvalue.Check(knownvalue.Int64Exact(0))
			if !grace {
				held, freed = knownvalue.Int64Exact(0), positiveInt64{}
				restore = resource.TestStep{
					Config:      providerBlock(restarted, "") + restoreEverything,
					ExpectError: errorLike(`(?s)Cannot plan the restore.*cannot come back.*blob sha256:`),
				}
			}
			provider := providerBlock(reg, "")
			accTest(t,
				resource.TestStep{Config: provider + tooWide, Check: expectRegistryTags(reg, "app", "stable")},
				resource.TestStep{
					Config: provider + gcConfig,
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("manifests_held_back"), held),
						statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("blobs_deleted"), freed),
					},
				},
				restore,
			)
		})
	}
}

// s3Storage is the storage attributes of registry_garbage_collection for
// an S3 driver's parameters (every value a string).
func s3Storage(params map[string]any) string {
	keys := slices.Sorted(maps.Keys(params))
	var b strings.Builder
	b.WriteString("  storage_driver = \"s3\"\n  storage_parameters = {\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "    %s = %q\n", k, fmt.Sprint(params[k]))
	}
	b.WriteString("  }")
	return b.String()
}
