package provider

// Review 56: the registry_restore action's saved plan, once its own record
// is consumed (another invoke of the same configuration) or past 24 hours
// old, is authorized by any later look at the plan (`plan -invoke`
// without applying it): it then moves back a tag pushed onto a new image
// after the plan the user reviewed.
//
// What is wrong: RestoreAction.Invoke (action_restore.go, reviewMoved)
// moves a moved tag back when every UNCONSUMED record within
// planRecordTTL saw it on the digest it is on now. The record of the plan
// being applied is not among them once an earlier invoke consumed it
// (planRecords.consume renames it *.consumed, and consumed records only
// name a digest in the failure message: recordedPlans.seen) or once it is
// older than 24 hours (readMoved skips it by mtime). A plan made after the
// push, merely looked at, is then the only unconsumed record, agrees with
// where the tag is now, and authorizes a saved plan that showed the tag
// elsewhere. The Undo guide says the tag is left, and the invoke fails,
// when "the tag was pushed onto another image after the plan" and when
// "an invoke of the same configuration came first" or the plan "is more
// than 24 hours old".
//
// User-visible consequence: `terraform apply tfplan` of a saved plan that
// showed app:latest on image M (and moving it back) takes latest off a
// release pushed after that plan, with success: the release loses latest.
//
// Reproduce (Terraform 1.14):
//   REVIEW56_UNSKIP=1 TF_ACC=1 TF_ACC_TERRAFORM_PATH=/work/main/bin/terraform-1.14 CHECKPOINT_DISABLE=1 \
//   TF_CLI_CONFIG_FILE=/work/main/bin/empty.tfrc go test -count=1 -run TestReview56RestoreActionSavedPlanAuthorizedByALaterLook ./internal/provider/

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ageMovedRecords56 dates every record of the action's plans in cacheDir
// 25 hours back, as if the plan had been made the day before.
func ageMovedRecords56(t *testing.T, cacheDir string) {
	t.Helper()
	old := time.Now().Add(-25 * time.Hour)
	aged := 0
	err := filepath.WalkDir(cacheDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), ".moved-") {
			return err
		}
		aged++
		return os.Chtimes(path, old, old)
	})
	if err != nil || aged == 0 {
		t.Fatalf("aging the action's plan records in %s: %d aged, %v", cacheDir, aged, err)
	}
}

func TestReview56RestoreActionSavedPlanAuthorizedByALaterLook(t *testing.T) {
	reported56(t, "the restore action's saved plan, its record consumed or expired, is authorized by a later unapplied plan: a tag pushed after the reviewed plan is moved back")
	requireActions(t)
	for _, gone := range []string{"consumed by another invoke", "older than 24 hours"} {
		t.Run(gone, func(t *testing.T) {
			reg := startRegistry(t)
			o := pushOverDeletedApp(t, reg)
			cacheDir := t.TempDir()
			cacheLine := fmt.Sprintf("cache_dir = %q", cacheDir)
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

			b := newCLIWorkspace(t, nil, providerBlock(reg, "", cacheLine)+action)
			if gone == "consumed by another invoke" {
				// A colleague restores it first (consuming the saved plan's record).
				b.mustRun("apply", invoke, "-auto-approve", "-input=false", "-no-color")
			} else {
				ageMovedRecords56(t, cacheDir) // the saved plan is applied the next day
			}
			release := mustPush(t, reg, "app", "latest") // a release, after the reviewed plan
			// A look at the action's plan, not applied: it shows latest on the release.
			look := b.mustRun("plan", invoke, "-input=false", "-no-color")
			if !errorLike(`app:latest \(on ` + release.Digest.String() + `\)`).MatchString(look) {
				t.Fatalf("the look does not show latest on the release %s:\n%s", release.Digest, look)
			}

			out, err := a.run("apply", "-input=false", "-no-color", "tfplan")
			if err == nil {
				t.Errorf("applying the saved plan (which showed latest on %s) succeeded although latest was pushed onto %s after it:\n%s", moved.Digest, release.Digest, out)
			}
			expectLatestOn(t, reg, release.Digest, "the release pushed after the reviewed plan lost latest")
		})
	}
}
