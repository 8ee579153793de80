package provider

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// The action as Terraform calls it, through the provider server's
// ConfigureProvider and InvokeAction, reading the event stream: these run
// under every CLI, and cancel at an exact point. Under a real Terraform
// 1.14, see action_garbage_collect_cli_test.go.

// actionRun is what one InvokeAction streamed.
type actionRun struct {
	progress []string
	diags    []*tfprotov6.Diagnostic
}

func (r actionRun) errorText() string {
	var b strings.Builder
	for _, d := range r.diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			b.WriteString(d.Summary + ": " + d.Detail + "\n")
		}
	}
	return b.String()
}

// invokeGarbageCollect configures the provider for reg (nil: a provider
// block without url) and invokes the action with the given attributes.
// onProgress sees each progress message as it arrives, while the action
// waits for it to be read.
func invokeGarbageCollect(t *testing.T, ctx context.Context, reg *testregistry.Registry, attributes map[string]tftypes.Value, onProgress func(string)) actionRun {
	t.Helper()
	provider := map[string]tftypes.Value{}
	if reg != nil {
		provider["url"] = tftypes.NewValue(tftypes.String, reg.URL)
	}
	return invokeGarbageCollectWith(t, ctx, provider, attributes, onProgress)
}

// configuredServer serves the provider configured with the given provider
// block attributes, as Terraform does before planning.
func configuredServer(t *testing.T, ctx context.Context, provider map[string]tftypes.Value) (tfprotov6.ProviderServerWithActions, *tfprotov6.GetProviderSchemaResponse) { //nolint:staticcheck // SA1019, as below
	t.Helper()
	served, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	//nolint:staticcheck // SA1019: ProviderServer lacks the action methods until terraform-plugin-go moves them there.
	server, ok := served.(tfprotov6.ProviderServerWithActions)
	if !ok {
		t.Fatalf("%T does not serve actions", served)
	}
	schemas, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	providerConfig := dynamicValue(t, schemas.Provider.ValueType(), provider)
	configured, err := server.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{Config: providerConfig})
	if err != nil || len(configured.Diagnostics) > 0 {
		t.Fatalf("configure: %v %v", err, configured.Diagnostics)
	}
	return server, schemas
}

// invokeGarbageCollectWith is invokeGarbageCollect under any provider block.
func invokeGarbageCollectWith(t *testing.T, ctx context.Context, provider, attributes map[string]tftypes.Value, onProgress func(string)) actionRun {
	t.Helper()
	server, schemas := configuredServer(t, ctx, provider)
	actionSchema := schemas.ActionSchemas["registry_garbage_collect"]
	if actionSchema == nil {
		t.Fatal("the provider does not offer registry_garbage_collect")
	}
	stream, err := server.InvokeAction(ctx, &tfprotov6.InvokeActionRequest{
		ActionType: "registry_garbage_collect",
		Config:     dynamicValue(t, actionSchema.Schema.ValueType(), attributes),
	})
	if err != nil {
		t.Fatal(err)
	}
	var run actionRun
	for event := range stream.Events {
		switch e := event.Type.(type) {
		case tfprotov6.ProgressInvokeActionEventType:
			run.progress = append(run.progress, e.Message)
			onProgress(e.Message)
		case tfprotov6.CompletedInvokeActionEventType:
			run.diags = e.Diagnostics
		}
	}
	return run
}

// dynamicValue builds an object of typ with the given attributes, every
// other attribute null, as Terraform sends a configuration.
func dynamicValue(t *testing.T, typ tftypes.Type, attributes map[string]tftypes.Value) *tfprotov6.DynamicValue {
	t.Helper()
	object := typ.(tftypes.Object)
	values := map[string]tftypes.Value{}
	for name, attrType := range object.AttributeTypes {
		values[name] = tftypes.NewValue(attrType, nil)
		if v, ok := attributes[name]; ok {
			values[name] = v
		}
	}
	dv, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, values))
	if err != nil {
		t.Fatal(err)
	}
	return &dv
}

func filesystemAttributes(root string, extra map[string]tftypes.Value) map[string]tftypes.Value {
	attributes := map[string]tftypes.Value{
		"storage_driver": tftypes.NewValue(tftypes.String, "filesystem"),
		"storage_parameters": tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, map[string]tftypes.Value{
			"rootdirectory": tftypes.NewValue(tftypes.String, root),
		}),
	}
	for k, v := range extra {
		attributes[k] = v
	}
	return attributes
}

func TestGarbageCollectAction_streamsProgressAndFreesSpace(t *testing.T) {
	writable, readOnly, kept, deleted := gcGarbageRegistries(t)
	run := invokeGarbageCollect(t, context.Background(), readOnly, filesystemAttributes(writable.RootDir, nil), func(string) {})
	if msg := run.errorText(); msg != "" {
		t.Fatal(msg)
	}
	for _, want := range []string{"scanned 1 repositories", "marked app: 1 manifests kept", "swept 3 of 3 blobs", "deleted 3 blobs"} {
		if !containsPrefix(run.progress, want) {
			t.Errorf("no progress message starting %q in %q", want, run.progress)
		}
	}
	checkOnDisk(t, writable.RootDir, deleted.Digest, false)
	checkOnDisk(t, writable.RootDir, kept.Digest, true)
}

func TestGarbageCollectAction_refusesWritableRegistry(t *testing.T) {
	writable, _, _, deleted := gcGarbageRegistries(t)
	run := invokeGarbageCollect(t, context.Background(), writable, filesystemAttributes(writable.RootDir, nil), func(string) {})
	if !strings.Contains(run.errorText(), "The registry accepts pushes") {
		t.Fatalf("want a refusal, got %q", run.errorText())
	}
	checkOnDisk(t, writable.RootDir, deleted.Digest, true)
}

// Cancelling (Ctrl-C in Terraform) after the scan stops the run before
// the sweep: nothing is deleted and the action reports the cancellation.
func TestGarbageCollectAction_honoursCancellation(t *testing.T) {
	writable, readOnly, _, deleted := gcGarbageRegistries(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := invokeGarbageCollect(t, ctx, readOnly, filesystemAttributes(writable.RootDir, nil), func(message string) {
		if strings.HasPrefix(message, "scanned") {
			cancel()
		}
	})
	if !strings.Contains(run.errorText(), "context canceled") {
		t.Fatalf("want a cancellation error, got %q (progress %q)", run.errorText(), run.progress)
	}
	checkOnDisk(t, writable.RootDir, deleted.Digest, true)
}

var registryStopped = map[string]tftypes.Value{"registry_stopped": tftypes.NewValue(tftypes.Bool, true)}

// registry_stopped is checked against the provider's url: a registry that
// answers stops the action, deleting nothing; once it is stopped (its
// storage stays), the action collects.
func TestGarbageCollectAction_registryStopped(t *testing.T) {
	writable, _, kept, deleted := gcGarbageRegistries(t)
	attributes := filesystemAttributes(writable.RootDir, registryStopped)
	run := invokeGarbageCollect(t, context.Background(), writable, attributes, func(string) {})
	if want := "The registry is not stopped: registry_stopped = true, but the registry at " + writable.URL + " answers. Nothing was deleted."; !strings.Contains(run.errorText(), want) {
		t.Fatalf("want %q, got %q", want, run.errorText())
	}
	checkOnDisk(t, writable.RootDir, deleted.Digest, true)
	if err := writable.Close(); err != nil {
		t.Fatal(err)
	}
	run = invokeGarbageCollect(t, context.Background(), writable, attributes, func(string) {})
	if msg := run.errorText(); msg != "" {
		t.Fatal(msg)
	}
	checkOnDisk(t, writable.RootDir, deleted.Digest, false)
	checkOnDisk(t, writable.RootDir, kept.Digest, true)
}

// A provider without url, used only for garbage collection: the action
// cannot check read-only mode and says which two settings let it run;
// with registry_stopped it collects.
func TestGarbageCollectAction_withoutURL(t *testing.T) {
	writable, _, kept, deleted := gcGarbageRegistries(t)
	run := invokeGarbageCollect(t, context.Background(), nil, filesystemAttributes(writable.RootDir, nil), func(string) {})
	if want := regexp.MustCompile(`(?s)Cannot check that nobody can push: The provider has no url.*registry_stopped = true.*allow_writable_registry = true`); !want.MatchString(run.errorText()) {
		t.Fatalf("want an error matching %s, got %q", want, run.errorText())
	}
	checkOnDisk(t, writable.RootDir, deleted.Digest, true)
	run = invokeGarbageCollect(t, context.Background(), nil, filesystemAttributes(writable.RootDir, registryStopped), func(string) {})
	if msg := run.errorText(); msg != "" {
		t.Fatal(msg)
	}
	checkOnDisk(t, writable.RootDir, deleted.Digest, false)
	checkOnDisk(t, writable.RootDir, kept.Digest, true)
}

func containsPrefix(messages []string, prefix string) bool {
	for _, m := range messages {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// The action takes images as the resource does: with delete_untagged, an
// untagged digest a deployment pins survives with its blobs, and another
// untagged one goes.
func TestGarbageCollectAction_deployedImagesSurvive(t *testing.T) {
	writable := testregistry.StartRestartable(t)
	pinned := mustPush(t, writable, "app", "main")
	old := mustPush(t, writable, "app", "main")
	mustPush(t, writable, "app", "main")
	readOnly := testregistry.Start(t, testregistry.WithRootDir(writable.RootDir), testregistry.WithReadOnly())
	pinnedRef := strings.TrimPrefix(readOnly.URL, "http://") + "/app@" + pinned.Digest.String()
	attributes := filesystemAttributes(writable.RootDir, map[string]tftypes.Value{
		"delete_untagged": tftypes.NewValue(tftypes.Bool, true),
		"images":          tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, []tftypes.Value{tftypes.NewValue(tftypes.String, pinnedRef)}),
	})
	run := invokeGarbageCollect(t, context.Background(), readOnly, attributes, func(string) {})
	if msg := run.errorText(); msg != "" {
		t.Fatal(msg)
	}
	checkOnDisk(t, writable.RootDir, pinned.Digest, true)
	checkOnDisk(t, writable.RootDir, pinned.ConfigDigest, true)
	checkOnDisk(t, writable.RootDir, old.Digest, false)
	checkOnDisk(t, writable.RootDir, old.ConfigDigest, false)
}

// registry_stopped is not taken from a refused url alone, which a wrong
// port gives too (issue 30): the http.addr that config_file names is
// checked as well, and a registry answering there stops the run; without
// config_file, the run warns which address it found closed.
func TestGarbageCollectAction_registryStoppedChecksHTTPAddr(t *testing.T) {
	ctx := context.Background()
	writable, _, kept, deleted := gcGarbageRegistries(t)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wrongPort := listener.Addr().String() // nothing listens there
	listener.Close()
	provider := map[string]tftypes.Value{"url": tftypes.NewValue(tftypes.String, "http://"+wrongPort)}
	configFile := filepath.Join(t.TempDir(), "config.yml")
	writeConfig := func(addr string) {
		yaml := "version: 0.1\n" + testregistry.FilesystemStorageYAML(writable.RootDir) + fmt.Sprintf("http:\n  addr: %q\n", addr)
		if err := os.WriteFile(configFile, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	withConfigFile := map[string]tftypes.Value{
		"config_file":      tftypes.NewValue(tftypes.String, configFile),
		"registry_stopped": tftypes.NewValue(tftypes.Bool, true),
	}
	_, port, _ := net.SplitHostPort(writable.Host)
	writeConfig(":" + port)
	run := invokeGarbageCollectWith(t, ctx, provider, withConfigFile, func(string) {})
	if want := "The registry is not stopped: registry_stopped = true, but a registry answers at 127.0.0.1:" + port +
		", where config_file has it listen (http.addr :" + port + "). Nothing was deleted."; !strings.Contains(run.errorText(), want) {
		t.Fatalf("want %q, got %q", want, run.errorText())
	}
	checkOnDisk(t, writable.RootDir, deleted.Digest, true)

	// Without config_file, the refused url is taken, with a warning naming
	// the one address found closed (a dry run skips the check).
	run = invokeGarbageCollectWith(t, ctx, provider, filesystemAttributes(writable.RootDir, map[string]tftypes.Value{
		"registry_stopped": tftypes.NewValue(tftypes.Bool, true), "dry_run": tftypes.NewValue(tftypes.Bool, false),
	}), func(string) {})
	warning := ""
	for _, d := range run.diags {
		if d.Severity == tfprotov6.DiagnosticSeverityWarning {
			warning += d.Summary + ": " + d.Detail
		}
	}
	if run.errorText() != "" || !strings.Contains(warning, "Only the url's address was found closed: registry_stopped = true was confirmed by a refused connection at "+
		wrongPort+" (the provider's url) only") || !strings.Contains(warning, "give config_file") {
		t.Fatalf("errors %q, warning %q", run.errorText(), warning)
	}
	checkOnDisk(t, writable.RootDir, deleted.Digest, false)

	// Both closed: the run says where it looked, and warns of nothing.
	if err := writable.Close(); err != nil {
		t.Fatal(err)
	}
	run = invokeGarbageCollectWith(t, ctx, provider, withConfigFile, func(string) {})
	if len(run.diags) != 0 {
		t.Fatalf("diagnostics: %v", run.diags)
	}
	want := "registry_stopped: no registry answers at " + wrongPort + " (the provider's url) nor at 127.0.0.1:" + port + " (http.addr in config_file)"
	if !slices.Contains(run.progress, want) {
		t.Fatalf("no progress message %q in %q", want, run.progress)
	}
	checkOnDisk(t, writable.RootDir, kept.Digest, true)
}
