package registry

// Regression test of review 55 (fixed: one tag goes back to one image in every selection, the newest deletion of it, and the plan names the image that does not get it back, TagsToNewer); failed before the fix.
//
// Review 55: a restore by digests of two images that each carried the same
// tag when deleted (latest on release 1, deleted by one apply; latest on
// release 2, deleted by a later apply) plans that tag on both images, and
// its apply then fails, claiming the tag "was pushed onto <the first
// image> since the plan": its own write, not a push.
//
// What is wrong: selectTargets (restore_select.go) gives each selected
// digest "every tag it had" (RestoreSelection.Digests) without checking
// that two targets claim the same tag (the Tags selection takes only the
// newest deletion per tag; Digests and ApplyID take all), and
// availability.plan puts a gone tag in Tags of every image that had it.
// ExecuteRestore (restore.go) then tags the first image, and for the
// second resolves the tag, finds it on the first (its own PUT), and
// records movedSincePlan: "tag app:latest was pushed onto <first> since
// the plan" (with overwrite_moved_tags: "... which showed it gone, not
// moved"), failing the apply after the rest.
//
// User-visible consequence: registry_restore (and the action) shows a plan
// that points latest at two images, and every apply of it fails with a
// false report of a push since the plan; which image latest ends on is the
// order of their digests, not the newest deletion; plan again shows the
// same contradiction for the other way round (latest now "moved" onto the
// first image). Under overwrite_moved_tags the false claim is that someone
// pushed a tag the plan showed gone.
//
// Reproduce: REVIEW55_UNSKIP=1 go test -count=1 -run TestReview55RestoreOfTwoDigestsWithOneTag ./internal/registry/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview55RestoreOfTwoDigestsWithOneTag(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review55/one-tag-twice"
		ctx := context.Background()
		c := newClient(t, Config{URL: reg.URL})
		tooWide := retention.Policy{Keep: []retention.KeepRule{{Tags: []string{"stable"}}}, Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile(".")}}}
		if _, err := reg.PushImage(repo, time.Time{}, "stable"); err != nil {
			t.Fatal(err)
		}
		var releases []string
		for i := range 2 { // latest on release 1, deleted; then latest on release 2, deleted by the next apply
			img, err := reg.PushImage(repo, time.Date(2026, 7, 1+i, 0, 0, 0, 0, time.UTC), "latest")
			if err != nil {
				t.Fatal(err)
			}
			releases = append(releases, img.Digest.String())
			if _, err := c.ExecuteBatches(ctx, []Batch{planBatch(t, c, repo, tooWide)}); err != nil {
				t.Fatal(err)
			}
		}
		for _, overwrite := range []bool{false, true} {
			planned, err := c.PlanRestore(ctx, RestoreSelection{Repository: repo, Digests: releases, OverwriteMovedTags: overwrite})
			if err != nil {
				t.Fatal(err)
			}
			var withLatest []string
			for _, img := range planned.Images {
				if slices.Contains(img.Tags, "latest") {
					withLatest = append(withLatest, img.Digest)
				}
			}
			if len(withLatest) > 1 {
				t.Errorf("overwrite_moved_tags = %v: the plan points latest at %d images (%s): no apply can do that", overwrite, len(withLatest), strings.Join(withLatest, ", "))
			}
			if !slices.Equal(withLatest, releases[1:]) { // the newest deletion of latest, as a restore by tags chooses
				t.Errorf("overwrite_moved_tags = %v: the plan points latest at %v, want the newest deletion of it, %s", overwrite, withLatest, releases[1])
			}
			for _, img := range planned.Images { // the plan says which image does not get latest back, and which does
				want := map[string]string(nil)
				if img.Digest == releases[0] {
					want = map[string]string{"latest": releases[1]}
				}
				if !maps.Equal(img.TagsToNewer, want) {
					t.Errorf("overwrite_moved_tags = %v: %s: TagsToNewer %v, want %v", overwrite, img.Digest, img.TagsToNewer, want)
				}
			}
			if err := c.ExecuteRestore(ctx, planned, func(string) {}); err != nil && strings.Contains(err.Error(), "since the plan") {
				t.Errorf("overwrite_moved_tags = %v: the restore fails claiming a push since the plan, which was its own write: %v", overwrite, err)
			}
			for _, d := range releases { // as before, for the next round
				if err := c.DeleteManifest(ctx, repo, d); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
