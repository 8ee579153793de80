package provider

import (
	"testing"
)

// The restore action under a real Terraform (1.14 or later), with `apply
// -invoke`: it puts back what a too-wide policy deleted, reporting each
// image and tag, and an image whose blobs garbage collection freed fails
// the invoke, naming them. Under a CLI without actions it skips.
func TestAccRestoreActionCLI_invoke(t *testing.T) {
	requireActions(t)
	reg := startRegistry(t)
	o := pushOverDeletedApp(t, reg)
	w := newCLIWorkspace(t, nil, providerBlock(reg, "")+tooWide)
	w.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
	if err := expectRegistryTags(reg, "app", "stable")(nil); err != nil {
		t.Fatal(err)
	}

	w.writeConfig(providerBlock(reg, "") + tooWide + `
action "registry_restore" "v1" {
  config {
    repository = "app"
    tags       = ["v1"]
  }
}
action "registry_restore" "v2" {
  config {
    digests = ["` + o.second.Digest.String() + `"]
  }
}
`)
	out := w.mustRun("apply", "-auto-approve", "-input=false", "-no-color", "-invoke=action.registry_restore.v1")
	invoked := "Action action.registry_restore.v1 (triggered by CLI): "
	expectOutput(t, out,
		invoked+"restored "+o.first.Digest.String()+" in app",
		invoked+"tagged app:v1 on "+o.first.Digest.String(),
		"Action complete: action.registry_restore.v1 (triggered by CLI)",
	)
	if err := expectPulls(reg, "app", "v1")(nil); err != nil {
		t.Error(err)
	}

	if err := reg.RemoveBlobFile(o.second.ConfigDigest); err != nil { // as garbage collection frees it
		t.Fatal(err)
	}
	out = w.mustFail("apply", "-auto-approve", "-input=false", "-no-color", "-invoke=action.registry_restore.v2")
	if !errorLike(`(?s)cannot come back.*blob ` + o.second.ConfigDigest.String()).MatchString(out) {
		t.Errorf("the failed invoke does not name the freed blob %s", o.second.ConfigDigest)
	}
	if err := expectRegistryTags(reg, "app", "stable", "v1"); err(nil) != nil {
		t.Error(err(nil))
	}
}
