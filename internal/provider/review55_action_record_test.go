package provider

// Regression test of review 55 (fixed: every plan of the action keeps a record of its own, and Invoke moves a moved tag back only when every plan recorded since the last invoke saw it where it is, else leaves it and names it; Invoke consumes the records it read); failed before the fix.
//
// Review 55: the registry_restore action's record of where its plan saw
// each moved tag is keyed by the action's configuration alone, so the
// record a saved plan (`plan -invoke -out`) relies on is replaced by any
// later plan of the same action configuration, from this or another
// configuration sharing cache_dir (the default: the user's cache
// directory), or removed by any invoke of it. The saved plan then moves
// back a tag pushed onto a new image after it was made.
//
// What is wrong: review 54's fix (overwrite_moved_tags moves a tag back
// only off the image the restore's plan showed it on) holds for the
// action only while the record in cache_dir is the one its own plan
// wrote. RestoreAction.ModifyPlan (action_restore.go) calls saveMoved on
// every plan, writing planRecords.path(restoreActionRecord, config,
// noState): a key of the registry and the action's configuration, nothing
// of the plan it belongs to. A second `plan -invoke` (another working
// directory with the same action, or a look at the plan before applying
// the saved one) overwrites it with what that plan sees; Invoke's
// reviewMoved then narrows to that record, and an invoke (forget) deletes
// it, after which reviewMoved leaves Invoke's own plan unchecked.
//
// User-visible consequence: `terraform apply tfplan` of a saved plan that
// showed app:latest on image X moves latest back onto the restored image
// off a release pushed as latest after that plan: the release loses
// latest, with success and no warning, which the Undo guide says cannot
// happen ("The action does the same between its plan and the invoke
// (with cache_dir, where it records what its plan showed)").
//
// Reproduce (Terraform 1.14):
//   REVIEW55_UNSKIP=1 TF_ACC=1 TF_ACC_TERRAFORM_PATH=/work/main/bin/terraform-1.14 CHECKPOINT_DISABLE=1 \
//   TF_CLI_CONFIG_FILE=/work/main/bin/empty.tfrc go test -count=1 -run TestReview55RestoreActionRecordReplacedByAnotherPlan ./internal/provider/

import (
	"fmt"
	"testing"
)

func TestReview55RestoreActionRecordReplacedByAnotherPlan(t *testing.T) {
	requireActions(t)
	for _, other := range []string{"plan", "invoke"} {
		t.Run("another configuration's "+other, func(t *testing.T) {
			reg := startRegistry(t)
			o := pushOverDeletedApp(t, reg)
			cacheLine := fmt.Sprintf("cache_dir = %q", t.TempDir()) // shared, as the default (the user's cache directory) is
			a := newCLIWorkspace(t, nil, providerBlock(reg, "", cacheLine)+tooWide)
			a.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
			moved := mustPush(t, reg, "app", "latest") // pushed since the deletion

			action := fmt.Sprintf(`
action "registry_restore" "v2" {
  config {
    digests              = ["%s"]
    overwrite_moved_tags = true
  }
}
`, o.second.Digest)
			invoke := "-invoke=action.registry_restore.v2"
			a.writeConfig(providerBlock(reg, "", cacheLine) + tooWide + action)
			plan := a.mustRun("plan", invoke, "-out=tfplan", "-input=false", "-no-color")
			if !errorLike(`app:latest \(on ` + moved.Digest.String() + `\)`).MatchString(plan) {
				t.Fatalf("the reviewed plan does not show latest on %s", moved.Digest)
			}

			// Another configuration with the same action (a colleague's
			// checkout, another pipeline) on this machine.
			b := newCLIWorkspace(t, nil, providerBlock(reg, "", cacheLine)+action)
			if other == "invoke" {
				b.mustRun("apply", invoke, "-auto-approve", "-input=false", "-no-color")
			}
			release := mustPush(t, reg, "app", "latest") // a release, after the reviewed plan
			if other == "plan" {
				b.mustRun("plan", invoke, "-input=false", "-no-color")
			}

			out, err := a.run("apply", "-input=false", "-no-color", "tfplan")
			if err == nil || !pushedAfterThePlan(release, moved).MatchString(out) {
				t.Errorf("applying the saved plan (which showed latest on %s) did not stop at latest, pushed onto %s after it (err %v)", moved.Digest, release.Digest, err)
			}
			expectLatestOn(t, reg, release.Digest, "the release pushed after the reviewed plan lost latest")
		})
	}
}
