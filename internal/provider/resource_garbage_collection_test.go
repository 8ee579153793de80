package provider

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/distreg/terraform-provider-registry/internal/gc"
	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

const gcAddress = "registry_garbage_collection.test"

// gcGarbage seeds a registry for an acceptance test (see gcGarbageRegistries).
func gcGarbage(t *testing.T) (writable, readOnly *testregistry.Registry, kept, deleted testregistry.Image) {
	t.Helper()
	requireAcceptance(t)
	return gcGarbageRegistries(t)
}

// gcGarbageRegistries seeds a registry with one kept image and one deleted
// by digest, whose manifest, config and layer blobs are garbage, and serves
// the same storage read-only too, as it must be during GC. The storage
// outlives the writable registry, so a test can stop it and collect.
func gcGarbageRegistries(t *testing.T) (writable, readOnly *testregistry.Registry, kept, deleted testregistry.Image) {
	t.Helper()
	writable = testregistry.StartRestartable(t)
	kept = mustPush(t, writable, "app", "v2")
	deleted = mustPush(t, writable, "app", "v1")
	if err := writable.DeleteManifest("app", deleted.Digest); err != nil {
		t.Fatal(err)
	}
	readOnly = testregistry.Start(t, testregistry.WithRootDir(writable.RootDir), testregistry.WithReadOnly())
	return writable, readOnly, kept, deleted
}

func gcConfig(reg *testregistry.Registry, attributes string) string {
	return providerBlock(reg, "") + fmt.Sprintf(`
resource "registry_garbage_collection" "test" {
%s
}
`, attributes)
}

func filesystemStorage(root string) string {
	return fmt.Sprintf(`  storage_driver     = "filesystem"
  storage_parameters = { rootdirectory = %q }`, root)
}

// expectBlobOnDisk checks the storage itself: whether a blob's data file
// exists under root.
func expectBlobOnDisk(root string, digest v1.Hash, exists bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		_, err := os.Stat(filepath.Join(root, "docker/registry/v2/blobs", digest.Algorithm, digest.Hex[:2], digest.Hex, "data"))
		if found := err == nil; found != exists {
			return fmt.Errorf("blob %s on disk: exists=%v, want %v", digest, found, exists)
		}
		return nil
	}
}

func checkOnDisk(t *testing.T, root string, digest v1.Hash, exists bool) {
	t.Helper()
	if err := expectBlobOnDisk(root, digest, exists)(nil); err != nil {
		t.Error(err)
	}
}

func gcReport(blobs, manifests int64) []statecheck.StateCheck {
	return []statecheck.StateCheck{
		statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("blobs_deleted"), knownvalue.Int64Exact(blobs)),
		statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("manifests_deleted"), knownvalue.Int64Exact(manifests)),
		statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("repositories_scanned"), knownvalue.Int64Exact(1)),
	}
}

// The whole life of a GC resource: refused on a writable registry, a dry
// run that deletes nothing, a run on the read-only registry that frees the
// deleted image's blobs and leaves the kept one servable, no change on
// re-plan, and a re-run when triggers change.
func TestAccGarbageCollection_lifecycle(t *testing.T) {
	writable, readOnly, kept, deleted := gcGarbage(t)
	root := writable.RootDir
	configFile := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(configFile, []byte("version: 0.1\n"+testregistry.FilesystemStorageYAML(root)), 0o600); err != nil {
		t.Fatal(err)
	}
	accTest(t,
		resource.TestStep{
			Config:      gcConfig(writable, filesystemStorage(root)),
			ExpectError: errorLike(`(?s)The registry accepts pushes.*Nothing was deleted.*read-only mode.*and restart it, collect garbage, then disable read-only mode and restart it again`),
		},
		resource.TestStep{
			Config:            gcConfig(writable, filesystemStorage(root)+"\n  dry_run = true"),
			ConfigStateChecks: append(gcReport(3, 0), statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("bytes_freed"), knownvalue.NotNull())),
			Check:             expectBlobOnDisk(root, deleted.Digest, true),
		},
		resource.TestStep{
			Config: gcConfig(readOnly, filesystemStorage(root)),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(gcAddress, plancheck.ResourceActionReplace),
			}},
			ConfigStateChecks: gcReport(3, 0),
			Check: resource.ComposeAggregateTestCheckFunc(
				expectBlobOnDisk(root, deleted.Digest, false),
				expectBlobOnDisk(root, deleted.ConfigDigest, false),
				expectBlobOnDisk(root, kept.Digest, true),
				expectManifests(readOnly, "app", true, kept.Digest),
				expectRegistryTags(readOnly, "app", "v2"),
			),
		},
		resource.TestStep{
			Config: gcConfig(readOnly, fmt.Sprintf("  config_file = %q\n  triggers = { policy = \"2\" }", configFile)),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(gcAddress, plancheck.ResourceActionReplace),
			}},
			ConfigStateChecks: gcReport(0, 0),
		},
	)
}

// With delete_untagged an image whose tag moved away is deleted, blobs
// and manifest, while an index child and an untagged signature of the kept
// image stay. The run is dated by the provider's clock.
func TestAccGarbageCollection_deleteUntagged(t *testing.T) {
	reg := startRegistry(t)
	old := mustPush(t, reg, "app", "main")
	current := mustPush(t, reg, "app", "main")
	_, children, err := reg.PushIndex("app", []v1.Platform{{OS: "linux", Architecture: "arm64"}}, time.Time{}, "multi")
	if err != nil {
		t.Fatal(err)
	}
	signature, err := reg.PushUntaggedReferrer("app", current.Digest, "sig")
	if err != nil {
		t.Fatal(err)
	}
	readOnly := testregistry.Start(t, testregistry.WithRootDir(reg.RootDir), testregistry.WithReadOnly())
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	accTestAt(t, now, resource.TestStep{
		Config: gcConfig(readOnly, filesystemStorage(reg.RootDir)+"\n  delete_untagged = true"),
		ConfigStateChecks: append(gcReport(3, 1),
			statecheck.ExpectKnownValue(gcAddress, tfjsonpath.New("run_at"), knownvalue.StringExact("2026-06-01T12:00:00Z"))),
		Check: resource.ComposeAggregateTestCheckFunc(
			expectManifests(readOnly, "app", false, old.Digest),
			expectManifests(readOnly, "app", true, current.Digest, children[0], signature),
			expectBlobOnDisk(reg.RootDir, old.ConfigDigest, false),
		),
	})
}

// A deployment pinned by digest whose tag moved away keeps its image, with
// its signature, through delete_untagged; other untagged images go. The
// deployments are named through an alias of the registry, as a cluster
// would pull them.
func TestAccGarbageCollection_deployedImagesSurvive(t *testing.T) {
	reg := startRegistry(t)
	pinned := mustPush(t, reg, "app", "main")
	old := mustPush(t, reg, "app", "main")
	mustPush(t, reg, "app", "main")
	signature, err := reg.PushUntaggedReferrer("app", pinned.Digest, "sig")
	if err != nil {
		t.Fatal(err)
	}
	readOnly := testregistry.Start(t, testregistry.WithRootDir(reg.RootDir), testregistry.WithReadOnly())
	config := func(images ...string) string {
		return providerBlock(readOnly, "", `aliases = ["registry.example.com"]`) + fmt.Sprintf(`
resource "registry_garbage_collection" "test" {
%s
  delete_untagged = true
  images          = %s
}
`, filesystemStorage(reg.RootDir), hclList(images))
	}
	pinnedRef := "registry.example.com/app@" + pinned.Digest.String()
	accTest(t,
		// Another registry's reference pins nothing here: the plan fails,
		// naming its host, rather than collect what it names.
		resource.TestStep{
			Config:      config(pinnedRef, "registry.example.com/app:main", "ghcr.io/org/app@"+old.Digest.String()),
			ExpectError: errorLike(`(?s)Images of an unknown registry.*not this registry's: ghcr.io\..*aliases`),
		},
		resource.TestStep{
			Config:            config(pinnedRef, "registry.example.com/app:main"),
			ConfigStateChecks: gcReport(3, 1),
			Check: resource.ComposeAggregateTestCheckFunc(
				expectManifests(readOnly, "app", false, old.Digest),
				expectManifests(readOnly, "app", true, pinned.Digest, signature),
				expectBlobOnDisk(reg.RootDir, pinned.ConfigDigest, true),
				expectBlobOnDisk(reg.RootDir, old.ConfigDigest, false),
			),
		},
		// The deployment moved on: a new list alone runs nothing (the
		// pinned image, now unprotected, stays until the next run).
		resource.TestStep{
			Config: config("registry.example.com/app:main"),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(gcAddress, plancheck.ResourceActionUpdate),
			}},
			ConfigStateChecks: gcReport(3, 1),
			Check:             expectManifests(readOnly, "app", true, pinned.Digest, signature),
		},
	)
}

// Every bad input fails the plan, naming the attribute, and deletes nothing.
func TestAccGarbageCollection_badInput(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "app", "v1")
	empty := t.TempDir()
	for _, tc := range []struct {
		name, attributes, want string
	}{
		{"neither source", `  dry_run = true`, `Invalid Attribute Combination.*config_file.*storage_driver`},
		{"both sources", fmt.Sprintf("  config_file = \"/x.yml\"\n%s", filesystemStorage(reg.RootDir)), `Invalid Attribute Combination`},
		{"unknown driver", `  storage_driver = "ftp"`, `storage_driver.*value must be one of`},
		{"parameters without driver", `  config_file = "/x.yml"
  storage_parameters = { rootdirectory = "/x" }`, `Invalid Attribute Combination.*storage_driver`},
		{"missing config file", `  config_file = "/nonexistent/config.yml"`, `config_file.*cannot read the registry configuration file`},
		{"empty storage root", filesystemStorage(empty), `no registry data in the filesystem storage.*rootdirectory=`},
		{"bad parameters", `  storage_driver = "s3"
  storage_parameters = { region = "us-east-1" }`, `Cannot open the registry storage.*s3`},
		{"value and section", `  storage_driver = "azure"
  storage_parameters = { credentials = "x", "credentials.type" = "shared_key" }`, `storage_parameters.*"credentials" is also set as a value`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			accTest(t, resource.TestStep{
				Config:      gcConfig(reg, tc.attributes),
				PlanOnly:    true,
				ExpectError: errorLike("(?s)" + tc.want),
			})
		})
	}
	if tags, err := reg.Tags("app"); err != nil || len(tags) != 1 {
		t.Fatalf("tags after bad inputs = %v, %v", tags, err)
	}
}

// Garbage collection on Azure blob storage (Azurite) and on GCS
// (fake-gcs-server), configured through storage_parameters, whose dotted
// keys give both drivers their nested credentials: the deleted image's
// blobs leave the store, the kept image stays servable. The garbage is made
// on the filesystem and copied in: a registry over the GCS emulator cannot
// upload blobs.
func TestAccGarbageCollection_cloudStorage(t *testing.T) {
	requireAcceptance(t)
	for name, start := range map[string]func(*testing.T) gc.Storage{"azure": azuriteStorage, "gcs": fakeGCSStorage} {
		t.Run(name, func(t *testing.T) {
			storage := start(t)
			writable, _, kept, deleted := gcGarbageRegistries(t)
			seeded := testregistry.OpenStorage(t, "filesystem", map[string]any{"rootdirectory": writable.RootDir})
			if err := testregistry.CopyStorage(context.Background(), seeded, testregistry.OpenStorage(t, storage.Driver, storage.Parameters)); err != nil {
				t.Fatal(err)
			}
			readOnly := testregistry.Start(t, testregistry.WithStorage(storage.Driver, storage.Parameters), testregistry.WithReadOnly())
			accTest(t, resource.TestStep{
				Config:            gcConfig(readOnly, storageConfig(storage)),
				ConfigStateChecks: gcReport(3, 0),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectBlobInStorage(storage, deleted.ConfigDigest, false),
					expectBlobInStorage(storage, kept.ConfigDigest, true),
					expectManifests(readOnly, "app", true, kept.Digest),
					expectRegistryTags(readOnly, "app", "v2"),
				),
			})
		})
	}
}

func azuriteStorage(t *testing.T) gc.Storage {
	a := testregistry.StartAzurite(t)
	if err := a.CreateContainer("registry"); err != nil {
		t.Fatal(err)
	}
	return gc.Storage{Driver: "azure", Parameters: a.AzureParameters("registry", "/reg")}
}

func fakeGCSStorage(t *testing.T) gc.Storage {
	g := testregistry.StartFakeGCS(t)
	if err := g.CreateBucket("registry"); err != nil {
		t.Fatal(err)
	}
	return gc.Storage{Driver: "gcs", Parameters: g.GCSParameters("registry", "/reg")}
}

// storageConfig writes storage as the resource's attributes, nested
// parameters as dotted keys.
func storageConfig(storage gc.Storage) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  storage_driver = %q\n  storage_parameters = {\n", storage.Driver)
	var write func(prefix string, params map[string]any)
	write = func(prefix string, params map[string]any) {
		for _, key := range slices.Sorted(maps.Keys(params)) {
			if section, ok := params[key].(map[any]any); ok {
				nested := map[string]any{}
				for k, v := range section {
					nested[fmt.Sprint(k)] = v
				}
				write(prefix+key+".", nested)
				continue
			}
			fmt.Fprintf(&b, "    %q = %q\n", prefix+key, fmt.Sprint(params[key]))
		}
	}
	write("", storage.Parameters)
	b.WriteString("  }")
	return b.String()
}

// expectBlobInStorage checks the storage itself, through its driver:
// whether a blob's data exists.
func expectBlobInStorage(storage gc.Storage, digest v1.Hash, exists bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := context.Background()
		d, err := storage.Open(ctx)
		if err != nil {
			return err
		}
		_, err = d.Stat(ctx, "/docker/registry/v2/blobs/"+digest.Algorithm+"/"+digest.Hex[:2]+"/"+digest.Hex+"/data")
		if found := err == nil; found != exists {
			if err != nil {
				return fmt.Errorf("blob %s in %s storage: exists=false (%w), want true", digest, storage.Driver, err)
			}
			return fmt.Errorf("blob %s in %s storage: exists=true, want false", digest, storage.Driver)
		}
		return nil
	}
}

// Garbage collection on a stopped registry, the safest procedure, is the
// easy one: registry_stopped says so, and the provider checks it against
// its url. While the registry answers, the run stops naming it and deletes
// nothing; once it is stopped (its storage stays), the run frees space.
func TestAccGarbageCollection_stoppedRegistry(t *testing.T) {
	writable, _, kept, deleted := gcGarbage(t)
	root := writable.RootDir
	config := gcConfig(writable, filesystemStorage(root)+"\n  registry_stopped = true")
	accTest(t,
		resource.TestStep{
			Config:      config,
			ExpectError: errorLike(`(?s)The registry is not stopped.*` + regexp.QuoteMeta(writable.URL) + ` answers. Nothing was deleted`),
		},
		resource.TestStep{
			PreConfig: func() {
				checkOnDisk(t, root, deleted.Digest, true)
				if err := writable.Close(); err != nil {
					t.Fatal(err)
				}
			},
			Config:            config,
			ConfigStateChecks: gcReport(3, 0),
			Check: resource.ComposeAggregateTestCheckFunc(
				expectBlobOnDisk(root, deleted.Digest, false),
				expectBlobOnDisk(root, kept.Digest, true),
			),
		},
	)
}

// A configuration with no url: GC of a stopped registry works, GC that
// would need to check read-only mode says what to set, and anything that
// needs the registry names url.
func TestAccGarbageCollection_withoutURL(t *testing.T) {
	writable, _, kept, deleted := gcGarbage(t)
	root := writable.RootDir
	noURL := func(attributes string) string {
		return "provider \"registry\" {}\nresource \"registry_garbage_collection\" \"test\" {\n" + attributes + "\n}\n"
	}
	accTest(t,
		resource.TestStep{
			Config:      noURL(filesystemStorage(root)),
			ExpectError: errorLike(`(?s)Cannot check that nobody can push.*no url.*registry_stopped = true`),
		},
		// With neither url nor aliases, no image names this registry: an
		// images entry fails the plan instead of pinning nothing.
		resource.TestStep{
			Config: noURL(filesystemStorage(root) + "\n  registry_stopped = true\n  delete_untagged = true\n" +
				fmt.Sprintf("  images = [%q]", "registry.example.com/app@"+deleted.Digest.String())),
			ExpectError: errorLike(`(?s)Cannot tell which images are this registry's.*registry.example.com.*no url and no aliases.*Set the provider's url`),
		},
		resource.TestStep{
			Config:            noURL(filesystemStorage(root) + "\n  registry_stopped = true"),
			ConfigStateChecks: gcReport(3, 0),
			Check: resource.ComposeAggregateTestCheckFunc(
				expectBlobOnDisk(root, deleted.Digest, false),
				expectBlobOnDisk(root, kept.Digest, true),
			),
		},
		resource.TestStep{
			Config:      "provider \"registry\" {}\ndata \"registry_tags\" \"x\" {\n  repository = \"app\"\n}\n",
			ExpectError: errorLike(`(?s)The provider has no registry URL.*set url in the provider block or REGISTRY_URL`),
		},
	)
}

// GC images whose host the provider cannot match to the registry fail the
// plan (the resource's and the action's) and the action's run, naming the
// hosts and aliases, instead of collecting what they pin (issue 30): a
// GC-only configuration with no url and no aliases swept the untagged
// image an images entry pinned. Hosts compare as runtimes resolve them.
func TestGarbageCollection_imagesOfUnknownHostsFail(t *testing.T) {
	ctx := context.Background()
	writable, _, _, _ := gcGarbageRegistries(t)
	pinned := mustPush(t, writable, "app", "main")
	mustPush(t, writable, "app", "main") // pinned is now untagged: delete_untagged would collect it
	if err := writable.Close(); err != nil {
		t.Fatal(err)
	}
	port := strings.TrimPrefix(writable.URL, "http://127.0.0.1:")
	strList := func(values ...string) tftypes.Value {
		elems := make([]tftypes.Value, len(values))
		for i, v := range values {
			elems[i] = str(v)
		}
		return tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, elems)
	}
	pinnedAt := func(host string) string { return host + "/app@" + pinned.Digest.String() }
	for _, tc := range []struct {
		name     string
		provider map[string]tftypes.Value
		images   []string
		want     string // "": no error
	}{
		{"no url, no aliases", nil, []string{pinnedAt("registry.example.com")},
			`(?s)Cannot tell which images are this registry's: images names the hosts registry.example.com, but the provider has no url and no aliases.*Set the provider's url.*aliases = \["registry.example.com"\]`},
		{"an alias, other hosts", map[string]tftypes.Value{"aliases": strList("reg.internal")},
			[]string{pinnedAt("registry.example.com"), "ghcr.io/org/app:v1", "reg.internal/app:v1", "Registry.Example.com/app:v2"},
			`(?s)Images of an unknown registry: images names hosts that are not this registry's: ghcr.io, registry.example.com\..*add it to the provider's aliases`},
		{"the alias's port differs", map[string]tftypes.Value{"aliases": strList("reg.internal:5000")}, []string{pinnedAt("reg.internal")},
			`(?s)not this registry's: reg.internal\.`},
		{"an alias names it", map[string]tftypes.Value{"aliases": strList("registry.example.com")}, []string{pinnedAt("REGISTRY.example.com:443")}, ""},
		{"the url names it", map[string]tftypes.Value{"url": str(writable.URL)}, []string{pinnedAt("localhost:" + port)}, ""},
		{"no images", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attributes := filesystemAttributes(writable.RootDir, map[string]tftypes.Value{
				"registry_stopped": tftypes.NewValue(tftypes.Bool, true),
				"delete_untagged":  tftypes.NewValue(tftypes.Bool, true),
				"dry_run":          tftypes.NewValue(tftypes.Bool, true),
			})
			if tc.images != nil {
				attributes["images"] = strList(tc.images...)
			}
			check := func(what string, diags []*tfprotov6.Diagnostic) {
				t.Helper()
				text := actionRun{diags: diags}.errorText()
				if tc.want == "" && text != "" || tc.want != "" && !regexp.MustCompile(tc.want).MatchString(text) {
					t.Errorf("%s: got %q, want %s", what, text, cmp.Or(tc.want, "no error"))
				}
			}
			server, schemas := configuredServer(t, ctx, tc.provider)
			gcType := schemas.ResourceSchemas["registry_garbage_collection"].ValueType()
			config := dynamicValue(t, gcType, attributes)
			planned, err := server.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
				TypeName: "registry_garbage_collection", PriorState: dynamicValue(t, gcType, nil),
				ProposedNewState: config, Config: config,
			})
			if err != nil {
				t.Fatal(err)
			}
			check("resource plan", planned.Diagnostics)
			actionType := schemas.ActionSchemas["registry_garbage_collect"].Schema.ValueType()
			plannedAction, err := server.PlanAction(ctx, &tfprotov6.PlanActionRequest{
				ActionType: "registry_garbage_collect", Config: dynamicValue(t, actionType, attributes),
			})
			if err != nil {
				t.Fatal(err)
			}
			check("action plan", plannedAction.Diagnostics)
			// Invoked without a plan (as through InvokeAction alone), the
			// action refuses too, before sweeping.
			delete(attributes, "dry_run")
			run := invokeGarbageCollectWith(t, ctx, tc.provider, attributes, func(string) {})
			check("action run", run.diags)
			checkOnDisk(t, writable.RootDir, pinned.ConfigDigest, tc.want != "" || tc.images != nil)
		})
	}
}

// A new images list alone runs nothing but is checked too: the next run
// uses it. An unchanged resource is not checked again.
func TestGarbageCollection_newImagesListIsChecked(t *testing.T) {
	ctx := context.Background()
	r := &GarbageCollectionResource{}
	var configure fwresource.ConfigureResponse
	r.Configure(ctx, fwresource.ConfigureRequest{ProviderData: providerData{hosts: retention.NewHosts("", "", []string{"reg.internal"})}}, &configure)
	images := func(refs ...string) tftypes.Value {
		elems := make([]tftypes.Value, len(refs))
		for i, ref := range refs {
			elems[i] = str(ref)
		}
		return tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, elems)
	}
	value := func(refs ...string) (tftypes.Value, fwresource.SchemaResponse) {
		return resourceValue(ctx, r, map[string]tftypes.Value{
			"id": str("2026-01-01T00:00:00Z"), "storage_driver": str("filesystem"), "images": images(refs...),
		})
	}
	ours, schema := value("reg.internal/app:v1")
	theirs, _ := value("reg.internal/app:v1", "ghcr.io/org/app:v1")
	for _, tc := range []struct {
		name        string
		state, plan tftypes.Value
		fails       bool
	}{
		{"a new foreign reference", ours, theirs, true},
		{"no change", theirs, theirs, false},
		{"a foreign reference removed", theirs, ours, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := fwresource.ModifyPlanRequest{
				Config: tfsdk.Config{Schema: schema.Schema, Raw: tc.plan},
				Plan:   tfsdk.Plan{Schema: schema.Schema, Raw: tc.plan},
				State:  tfsdk.State{Schema: schema.Schema, Raw: tc.state},
			}
			resp := fwresource.ModifyPlanResponse{Plan: req.Plan}
			r.ModifyPlan(ctx, req, &resp)
			if got := resp.Diagnostics.HasError(); got != tc.fails {
				t.Fatalf("error = %v, want %v: %v", got, tc.fails, resp.Diagnostics)
			}
			if tc.fails && !strings.Contains(fmt.Sprint(resp.Diagnostics), "ghcr.io") {
				t.Fatalf("the error does not name ghcr.io: %v", resp.Diagnostics)
			}
		})
	}
}
