package provider

import (
	"fmt"
	"regexp"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 54: with overwrite_moved_tags, the restore moves a tag back only
// off the image its plan showed it on (moved_tag_digests). A release
// pushed as latest between the saved plan and its apply keeps latest: the
// apply restores the rest and fails naming latest. Planned again, the
// restore shows latest on the release and, applied, moves it back. The
// action does not move tags back at all (review 56's regression test).

const restoreMovedLatest = `
resource "registry_restore" "v2" {
  digests              = ["%s"]
  overwrite_moved_tags = true
}
`

// pushedAfterThePlan is what the apply says of latest, pushed onto release
// after a plan that showed it on moved.
func pushedAfterThePlan(release, moved testregistry.Image) *regexp.Regexp {
	return errorLike(`(?s)tag app:latest was pushed onto ` + release.Digest.String() + ` since the plan, which showed it on ` +
		moved.Digest.String() + `: left there`)
}

func expectLatestOn(t *testing.T, reg *testregistry.Registry, want v1.Hash, why string) {
	t.Helper()
	if err := expectTagOn(reg, "app", "latest", func() v1.Hash { return want })(nil); err != nil {
		t.Errorf("%s: %v", why, err)
	}
}

func TestAccRestoreCLI_leavesATagPushedAfterThePlan(t *testing.T) {
	requireAcceptance(t)
	reg := startRegistry(t)
	o := pushOverDeletedApp(t, reg)
	w := newCLIWorkspace(t, nil, providerBlock(reg, "")+tooWide)
	w.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
	moved := mustPush(t, reg, "app", "latest") // pushed since the deletion

	w.writeConfig(providerBlock(reg, "") + fmt.Sprintf(restoreMovedLatest, o.second.Digest))
	plan := w.mustRun("plan", "-out=tfplan", "-input=false", "-no-color")
	expectOutput(t, plan, "moved_tag_digests", `"latest" = "`+moved.Digest.String()+`"`, "The restore moves tags back")
	release := mustPush(t, reg, "app", "latest") // a release, after the plan
	out := w.mustFail("apply", "-input=false", "-no-color", "tfplan")
	if !pushedAfterThePlan(release, moved).MatchString(out) {
		t.Errorf("the failed apply does not name latest, pushed onto %s after the plan:\n%s", release.Digest, out)
	}
	expectLatestOn(t, reg, release.Digest, "the release pushed after the plan lost latest")
	if err := expectPulls(reg, "app", "v2")(nil); err != nil {
		t.Errorf("the rest of the restore: %v", err)
	}

	plan = w.mustRun("plan", "-out=tfplan", "-input=false", "-no-color")
	expectOutput(t, plan, `"latest" = "`+release.Digest.String()+`"`)
	w.mustRun("apply", "-input=false", "-no-color", "tfplan")
	expectLatestOn(t, reg, o.second.Digest, "reviewed on the release, latest was not moved back")
}
