package registry

// Regression test of review 54 (fixed: the plan records the digest each moved tag was on, MovedTo / moved_tag_digests, and overwrite_moved_tags moves back only a tag still there); failed before the fix.
//
// Review 54: registry_restore with overwrite_moved_tags moves back a tag
// that was pushed onto a new image AFTER the restore's plan, an image the
// plan never showed (restore.go ExecuteRestore).
//
// The restore's plan resolves each tag of what it restores: "latest" names
// another image X now (pushed since the deletion), so it is listed in
// moved_tags and, with overwrite_moved_tags, in tags. The user reviews
// "move latest back off X". Between the plan and the apply, CI pushes a new
// release Y as latest. ExecuteRestore resolves latest again, finds Y, and,
// because latest is in MovedTags (movesBack), PUTs it back onto the restored
// image without comparing Y with what the plan saw: the release Y is left
// untagged (garbage at the next GC), deployments pulling latest get the old
// image, and the restore reports success. Review 36 fixed the same thing
// for a tag the plan showed gone ("a tag pushed between the plan and the
// apply is left where it is, and named", Undo guide); a tag the plan showed
// moved is moved back whatever it was pushed onto since, because the plan
// records only the moved tag's name (RestoreImage.MovedTags), not the
// digest it reviewed it on. The Safety guide counts every tag pushed after
// the plan as kept, and the plan is an upper bound, never a licence.
//
// Reproduce: REVIEW54_UNSKIP=1 go test -count=1 -run TestReview54RestoreOverwritesATagPushedAfterThePlan ./internal/registry/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview54RestoreOverwritesATagPushedAfterThePlan(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		o := overDelete(t, reg)
		moved, err := reg.PushImage("app", time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), "latest") // pushed since the deletion: the plan shows it moved
		if err != nil {
			t.Fatal(err)
		}
		c := otherMachine(t, reg)
		planned, err := c.PlanRestore(context.Background(), RestoreSelection{Digests: []string{o.second.Digest.String()}, OverwriteMovedTags: true})
		if err != nil {
			t.Fatal(err)
		}
		if img := planned.Images[0]; !slices.Equal(img.MovedTags, []string{"latest"}) || img.MovedTo["latest"] != moved.Digest.String() {
			t.Fatalf("planned %+v; want latest shown moved (onto %s)", img, moved.Digest)
		}
		release, err := reg.PushImage("app", time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC), "latest") // a release, after the restore's plan
		if err != nil {
			t.Fatal(err)
		}
		err = c.ExecuteRestore(context.Background(), planned, func(string) {})
		t.Logf("restore: %v", err)
		if got := resolvesTo(t, reg, "app", "latest"); got != release.Digest.String() {
			t.Errorf("latest resolves to %s after the restore; the release %s was pushed as latest after the restore's plan, which showed latest on %s: "+
				"the restore moved it back anyway, leaving the release untagged", got, release.Digest, moved.Digest)
		}
		if err == nil {
			t.Errorf("the restore reported success; latest, pushed onto %s since the plan reviewed it on %s, was not named", release.Digest, moved.Digest)
		}
		mustPull(t, reg, "app", "v2")
	})
}
