package provider

// Regression test of review 56 (fixed: the restore action no longer moves tags back; overwrite_moved_tags = true is refused at validation, pointing to the resource registry_restore, and the action leaves a moved tag where it is); failed before the fix.
//
// Review 56: the registry_restore action's saved plan, once its own record
// in cache_dir was consumed (another invoke of the same configuration) or
// past 24 hours old, was authorized by any later look at the plan (`plan
// -invoke` without applying it): it then moved back a tag pushed onto a
// new image after the plan the user reviewed. Reviews 54 and 55 had found
// two other ways through the action's records: an action's invoke is
// given its configuration alone and plans again, so it cannot tell which
// plan it applies, and no record scheme can answer that soundly.
//
// User-visible consequence, before the fix: `terraform apply tfplan` of a
// saved plan that showed app:latest on image M (and moving it back) took
// latest off a release pushed after that plan, with success.

import (
	"fmt"
	"testing"
)

func TestReview56RestoreActionDoesNotMoveTagsBack(t *testing.T) {
	requireActions(t)
	reg := startRegistry(t)
	o := pushOverDeletedApp(t, reg)
	w := newCLIWorkspace(t, nil, providerBlock(reg, "")+tooWide)
	w.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
	moved := mustPush(t, reg, "app", "latest") // pushed since the deletion

	action := `
action "registry_restore" "v2" {
  config {
    digests              = ["%s"]%s
  }
}
`
	invoke := "-invoke=action.registry_restore.v2"
	w.writeConfig(providerBlock(reg, "") + tooWide + fmt.Sprintf(action, o.second.Digest, "\n    overwrite_moved_tags = true"))
	out := w.mustFail("plan", invoke, "-out=tfplan", "-input=false", "-no-color")
	if !errorLike(`(?s)The restore action does not move tags back.*overwrite_moved_tags.*resource registry_restore`).MatchString(out) {
		t.Errorf("the plan does not refuse overwrite_moved_tags, pointing to the resource:\n%s", out)
	}

	w.writeConfig(providerBlock(reg, "") + tooWide + fmt.Sprintf(action, o.second.Digest, ""))
	plan := w.mustRun("plan", invoke, "-out=tfplan", "-input=false", "-no-color")
	expectOutput(t, plan, "Tags pushed since the deletion are left where they are", "use the resource registry_restore with")
	if !errorLike(`app:latest \(on ` + moved.Digest.String() + `\)`).MatchString(plan) {
		t.Errorf("the plan's warning does not say latest is on %s:\n%s", moved.Digest, plan)
	}
	release := mustPush(t, reg, "app", "latest") // a release, after the reviewed plan
	w.mustRun("apply", "-input=false", "-no-color", "tfplan")
	expectLatestOn(t, reg, release.Digest, "the release pushed after the reviewed plan lost latest")
	if err := expectPulls(reg, "app", "v2")(nil); err != nil {
		t.Errorf("the rest of the restore: %v", err)
	}
}
