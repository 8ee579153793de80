package provider

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

// The action's records of where its plans saw each moved tag (review 55):
// Invoke moves a moved tag back only when every plan recorded since the
// last invoke saw it where it is now, and consumes what it read.

const (
	restoredDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	movedDigest    = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	releaseDigest  = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
)

func actionRecords(t *testing.T, cacheDir string) planRecords {
	t.Helper()
	client, err := registry.New(context.Background(), registry.Config{URL: "http://registry.invalid", CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	return recordsOf(client, nil)
}

var actionConfig = tftypes.NewValue(tftypes.Object{AttributeTypes: map[string]tftypes.Type{"digests": tftypes.String}},
	map[string]tftypes.Value{"digests": tftypes.NewValue(tftypes.String, restoredDigest)})

// latestOn is a plan of the restore that sees app:latest on digest ("":
// gone).
func latestOn(digest string) registry.Restore {
	img := registry.RestoreImage{Repository: "app", Digest: restoredDigest, ApplyID: "a1", Tags: []string{"latest"}}
	if digest != "" {
		img.MovedTags, img.MovedTo = []string{"latest"}, map[string]string{"latest": digest}
	}
	return registry.Restore{Images: []registry.RestoreImage{img}, OverwriteMovedTags: true}
}

func TestRestoreActionMovesBackOnlyWhatEveryRecordedPlanSaw(t *testing.T) {
	for _, tc := range []struct {
		name     string
		plans    []string // where each recorded plan saw latest ("": gone)
		consumed bool     // an invoke consumed them before this one
		noCache  bool
		now      string // where Invoke's own plan finds it
		moves    bool
		to       string // MovedTo["latest"] left for ExecuteRestore's message
		movedOut bool   // left out of MovedTags: "the plan showed it gone"
	}{
		{name: "one plan, there still", plans: []string{movedDigest}, now: movedDigest, moves: true, to: movedDigest},
		{name: "two plans agreeing", plans: []string{movedDigest, movedDigest}, now: movedDigest, moves: true, to: movedDigest},
		{name: "pushed after the plan", plans: []string{movedDigest}, now: releaseDigest, to: movedDigest},
		{name: "another plan since saw it on the release", plans: []string{movedDigest, releaseDigest}, now: releaseDigest, to: movedDigest},
		{name: "an earlier plan saw it on the release", plans: []string{releaseDigest, movedDigest}, now: releaseDigest, to: movedDigest},
		{name: "a plan saw it gone", plans: []string{""}, now: releaseDigest, movedOut: true},
		{name: "no plan recorded", now: movedDigest, to: ""},
		{name: "consumed by another invoke", plans: []string{movedDigest}, consumed: true, now: releaseDigest, to: movedDigest},
		{name: "consumed, there still", plans: []string{movedDigest}, consumed: true, now: movedDigest, to: ""},
		{name: `cache_dir = ""`, noCache: true, now: movedDigest, to: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.noCache {
				dir = ""
			}
			p := actionRecords(t, dir)
			for _, on := range tc.plans {
				if err := p.saveMoved(actionConfig, latestOn(on)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.consumed {
				p.consumeMoved(actionConfig)
			}
			planned := latestOn(tc.now)
			why := p.reviewMoved(actionConfig, &planned)
			img := planned.Images[0]
			moves := img.MovedTo["latest"] == tc.now && slices.Contains(img.MovedTags, "latest")
			if moves != tc.moves || (!tc.movedOut && img.MovedTo["latest"] != tc.to) || slices.Contains(img.MovedTags, "latest") == tc.movedOut {
				t.Errorf("reviewed: moved %v to %v; want moved back %v, MovedTo %q, left out of moved %v", img.MovedTags, img.MovedTo, tc.moves, tc.to, tc.movedOut)
			}
			if (why == "") != tc.moves || (!tc.moves && !strings.Contains(why, "app:latest")) {
				t.Errorf("why %q", why)
			}
			if tc.noCache {
				return
			}
			again := latestOn(tc.now) // the records read are consumed: the next invoke needs a plan of its own
			if p.reviewMoved(actionConfig, &again); again.Images[0].MovedTo["latest"] == tc.now {
				t.Errorf("a second invoke moves latest back on the records the first consumed")
			}
		})
	}
}

// A record that cannot be read is a plan whose view is unknown: nothing is
// moved back while it is there.
func TestRestoreActionDamagedRecordMovesNothingBack(t *testing.T) {
	dir := t.TempDir()
	p := actionRecords(t, dir)
	if err := p.saveMoved(actionConfig, latestOn(movedDigest)); err != nil {
		t.Fatal(err)
	}
	prefix, _ := p.movedPrefix(actionConfig)
	if err := os.WriteFile(prefix+"99999999999999999999-000000000000.json", []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	planned := latestOn(movedDigest)
	if why := p.reviewMoved(actionConfig, &planned); why == "" || planned.Images[0].MovedTo["latest"] == movedDigest {
		t.Errorf("moved back with a damaged record: %+v (%q)", planned.Images[0], why)
	}
	left, _ := filepath.Glob(prefix + "*.json")
	if len(left) != 0 {
		t.Errorf("records left unconsumed: %v", left)
	}
}

// Records older than planRecordTTL are no plan to apply.
func TestRestoreActionRecordExpires(t *testing.T) {
	p := actionRecords(t, t.TempDir())
	if err := p.saveMoved(actionConfig, latestOn(movedDigest)); err != nil {
		t.Fatal(err)
	}
	p.now = func() time.Time { return time.Now().Add(planRecordTTL + time.Minute) }
	planned := latestOn(movedDigest)
	if p.reviewMoved(actionConfig, &planned); planned.Images[0].MovedTo["latest"] == movedDigest {
		t.Errorf("moved back on an expired record")
	}
}

// A tag two restored images had goes back to the newer deletion only
// (review 55): the plan's warning names the tag and both images.
func TestWarnRestoreNamesTheImageATagDoesNotGoBackTo(t *testing.T) {
	planned := registry.Restore{Images: []registry.RestoreImage{
		{Repository: "app", Digest: restoredDigest, TagsToNewer: map[string]string{"latest": releaseDigest}},
		{Repository: "app", Digest: releaseDigest, Tags: []string{"latest"}},
	}}
	var diags diag.Diagnostics
	warnRestore(planned, &diags)
	for _, d := range diags.Warnings() {
		if strings.Contains(d.Detail(), "app:latest goes back to "+releaseDigest+", not to "+restoredDigest) {
			return
		}
	}
	t.Errorf("no warning names app:latest, going back to %s and not to %s: %v", releaseDigest, restoredDigest, diags)
}
