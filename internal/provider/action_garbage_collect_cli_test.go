package provider

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// The action under a real Terraform (1.14 or later): invoked with
// `terraform apply -invoke`, triggered after a retention policy's
// deletions, and interrupted with Ctrl-C. make testacc-terraform-1.14 runs
// them (TF_ACTIONS_REQUIRED=1); under a CLI without actions they skip.

// requireActions skips the test unless acceptance tests run under a CLI
// with actions, or fails it when TF_ACTIONS_REQUIRED=1 says this run must
// test them.
func requireActions(t *testing.T) {
	t.Helper()
	requireAcceptance(t)
	cli, err := acceptanceCLI()
	switch {
	case err != nil:
		t.Fatal(err)
	case !cli.supportsActions():
		testregistry.SkipUnlessRequired(t, "TF_ACTIONS_REQUIRED", fmt.Errorf("%s has no actions (Terraform >= 1.14 does)", cli))
	}
}

// actionWorkspace is a workspace whose configuration, for reg, declares a
// registry_garbage_collect action named "now" over the filesystem store
// at root with extra attributes.
func actionWorkspace(t *testing.T, server func() tfprotov6.ProviderServer, reg *testregistry.Registry, root, extra string) *cliWorkspace {
	t.Helper()
	return newCLIWorkspace(t, server, providerBlock(reg, "")+gcAction("now", root, extra))
}

func gcAction(name, root, extra string) string {
	return fmt.Sprintf("action \"registry_garbage_collect\" %q {\n  config {\n%s\n%s\n  }\n}\n", name, filesystemStorage(root), extra)
}

const (
	invokeNow = "-invoke=action.registry_garbage_collect.now"
	// invokedNow starts each progress line Terraform prints for it.
	invokedNow = "Action action.registry_garbage_collect.now (triggered by CLI): "
	// triggeredDryRun starts each progress line of the triggered dry run.
	triggeredDryRun = "Action action.registry_garbage_collect.dry_run (triggered by registry_retention_policy.this): "
)

func expectOutput(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("no %q in the output", w)
		}
	}
}

// apply -invoke on the read-only registry streams the action's progress
// into Terraform's output and frees the deleted image's blobs.
func TestAccGarbageCollectActionCLI_invoke(t *testing.T) {
	requireActions(t)
	writable, readOnly, kept, deleted := gcGarbage(t)
	w := actionWorkspace(t, nil, readOnly, writable.RootDir, "")
	out := w.mustRun("apply", "-auto-approve", "-input=false", "-no-color", invokeNow)
	expectOutput(t, out,
		invokedNow+"scanned 1 repositories",
		invokedNow+"marked app: 1 manifests kept",
		invokedNow+"swept 3 of 3 blobs",
		invokedNow+"deleted 3 blobs",
		"Action complete: action.registry_garbage_collect.now (triggered by CLI)",
	)
	checkOnDisk(t, writable.RootDir, deleted.Digest, false)
	checkOnDisk(t, writable.RootDir, deleted.ConfigDigest, false)
	checkOnDisk(t, writable.RootDir, kept.Digest, true)
}

// On a registry that accepts pushes the invoke fails, saying why, and
// deletes nothing.
func TestAccGarbageCollectActionCLI_refusesWritableRegistry(t *testing.T) {
	requireActions(t)
	writable, _, _, deleted := gcGarbage(t)
	w := actionWorkspace(t, nil, writable, writable.RootDir, "")
	out := w.mustFail("apply", "-auto-approve", "-input=false", "-no-color", invokeNow)
	expectOutput(t, out, "The registry accepts pushes", "Nothing was deleted")
	checkOnDisk(t, writable.RootDir, deleted.Digest, true)
}

// An action_trigger runs a dry run after the policy's deletions, on create
// and on update: the dry run counts the blobs the deletions left behind.
func TestAccGarbageCollectActionCLI_triggeredAfterRetention(t *testing.T) {
	requireActions(t)
	reg := startRegistry(t)
	kept := mustPush(t, reg, "app", "v2")
	first := mustPush(t, reg, "app", "v1")
	config := providerBlock(reg, "") + gcAction("dry_run", reg.RootDir, "    dry_run = true") + `
resource "registry_retention_policy" "this" {
  repositories = ["app"]
  keep {
    tags = ["v2"]
  }
  delete {}
  lifecycle {
    action_trigger {
      events  = [after_create, after_update]
      actions = [action.registry_garbage_collect.dry_run]
    }
  }
}
`
	w := newCLIWorkspace(t, nil, config)
	// Each image is a manifest, a config and a layer: 3 blobs.
	out := w.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
	expectOutput(t, out, "registry_retention_policy.this: Creation complete",
		triggeredDryRun+"dry run, would delete 3 blobs")
	checkDeletedBeforeDryRun(t, out, "Creation complete")

	second := mustPush(t, reg, "app", "v3")
	out = w.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
	expectOutput(t, out, "registry_retention_policy.this: Modifications complete",
		triggeredDryRun+"dry run, would delete 6 blobs")
	checkDeletedBeforeDryRun(t, out, "Modifications complete")
	for _, img := range []testregistry.Image{first, second} {
		checkOnDisk(t, reg.RootDir, img.Digest, true) // a dry run
	}
	if err := expectRegistryTags(reg, "app", "v2")(nil); err != nil {
		t.Error(err)
	}
	checkOnDisk(t, reg.RootDir, kept.Digest, true)
}

// checkDeletedBeforeDryRun: the policy's apply completes before the
// triggered action starts.
func checkDeletedBeforeDryRun(t *testing.T, out, completed string) {
	t.Helper()
	done := strings.Index(out, "registry_retention_policy.this: "+completed)
	started := strings.Index(out, "Action started: action.registry_garbage_collect.dry_run")
	if done < 0 || started < done {
		t.Errorf("the dry run did not start after the policy's apply (%q at %d, action at %d)", completed, done, started)
	}
}

// Ctrl-C during the run, after the scan, stops it before the sweep:
// Terraform asks the provider to stop (StopProvider) and stops reading the
// action's events; the action ends in an error, having deleted nothing.
// Terraform 1.14.3 then ends with "Error: execution halted" or, depending
// on timing, "Apply complete!" (exit 0): the docs say so, and the test
// accepts either. The interrupt comes once Terraform has printed the
// scan's message: Terraform 1.14.3 crashes when two events it has not
// read yet are left at an interrupt (its event iterator goes on after
// the loop reading it has stopped), as the scan's steps, a few
// milliseconds apart, would be; the docs say that too.
func TestAccGarbageCollectActionCLI_interrupted(t *testing.T) {
	requireActions(t)
	writable, readOnly, _, deleted := gcGarbage(t)
	paused := &pausedAfterScan{scanned: make(chan struct{}), done: make(chan struct{})}
	w := actionWorkspace(t, paused.serve(t), readOnly, writable.RootDir, "")
	cmd, out := w.command("apply", "-auto-approve", "-input=false", "-no-color", invokeNow)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }() // when the test fails before Wait
	awaitOrFail(t, paused.scanned, "the scan")
	for deadline := time.Now().Add(time.Minute); !strings.Contains(out.String(), invokedNow+"scanned 1 repositories"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Terraform printed no scan message within a minute:\n%s", out)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	t.Logf("interrupted apply (%v):\n%s", err, out)
	expectOutput(t, out.String(), "Interrupt received", invokedNow+"scanned 1 repositories")
	awaitOrFail(t, paused.done, "the end of the action")
	if paused.completed == "" {
		t.Error("the interrupted action ended without an error")
	}
	t.Logf("the action ended with: %s", paused.completed)
	checkOnDisk(t, writable.RootDir, deleted.Digest, true)
	checkOnDisk(t, writable.RootDir, deleted.ConfigDigest, true)
}

func awaitOrFail(t *testing.T, event <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-event:
	case <-time.After(time.Minute):
		t.Fatalf("no %s within a minute", what)
	}
}

// pausedAfterScan stands in for a store slow enough that a user presses
// Ctrl-C between the scan and the sweep, a gap of milliseconds otherwise.
// It passes the action's events on to Terraform, but after the scan's it
// reads no more until the call is cancelled, which Terraform does on
// SIGINT (StopProvider); the action, which waits for each event to be
// read, is held there. scanned is closed once the scan's event is sent,
// done once the action has ended, with completed its error diagnostics.
type pausedAfterScan struct {
	tfprotov6.ProviderServerWithActions
	scanned, done chan struct{}
	completed     string
}

func (p *pausedAfterScan) serve(t *testing.T) func() tfprotov6.ProviderServer {
	//nolint:staticcheck // SA1019: ProviderServer lacks the action methods until terraform-plugin-go moves them there.
	p.ProviderServerWithActions = newProviderServer(t)().(tfprotov6.ProviderServerWithActions)
	return func() tfprotov6.ProviderServer { return p }
}

func (p *pausedAfterScan) InvokeAction(ctx context.Context, req *tfprotov6.InvokeActionRequest) (*tfprotov6.InvokeActionServerStream, error) {
	stream, err := p.ProviderServerWithActions.InvokeAction(ctx, req)
	if err != nil {
		return stream, err
	}
	events := stream.Events
	stream.Events = func(yield func(tfprotov6.InvokeActionEvent) bool) {
		defer close(p.done)
		// Every event is read, even once Terraform has gone, so the action
		// is never left waiting.
		forwarding := true
		for event := range events {
			forwarding = forwarding && yield(event)
			switch e := event.Type.(type) {
			case tfprotov6.ProgressInvokeActionEventType:
				if strings.HasPrefix(e.Message, "scanned") {
					close(p.scanned)
					<-ctx.Done()
				}
			case tfprotov6.CompletedInvokeActionEventType:
				p.completed = actionRun{diags: e.Diagnostics}.errorText()
			}
		}
	}
	return stream, nil
}
