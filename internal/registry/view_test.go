package registry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Terraform's planning pass during apply reads the repository moments
// before the apply in the same process: the apply takes that read as its
// view (the bodies it deletes included) and reads no manifest again, only
// the tags it keeps (one HEAD each) before its first DELETEs, and again
// after the chunk (a kept tag may have moved onto a new index over a
// deleted manifest: repair.go's deletedAny).
func TestApplyTakesThePlanningPassReadAsItsView(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "view/reuse"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		if _, err := reg.SeedTags(repo, 40, func(i int) string { return fmt.Sprintf("pr-%d", i) }, func(int) time.Time { return created }); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		url, n := countingProxy(t, reg.URL)
		c := newClient(t, Config{URL: url})
		batch := planPolicy(t, c, repo, "^pr-")
		if len(batch.Manifests) != 40 {
			t.Fatalf("planned %d deletions, want 40", len(batch.Manifests))
		}
		n.reset()
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil || report.Deleted != 40 {
			t.Fatalf("report %+v, err %v; want 40 deleted", report, err)
		}
		if n.gets.Load() != 0 || n.heads.Load() != 2 {
			t.Errorf("the apply sent %d manifest GETs and %d HEADs; want none and 2 (stable, kept, before and after the chunk)", n.gets.Load(), n.heads.Load())
		}
		if tags, err := reg.Tags(repo); err != nil || len(tags) != 1 || tags[0] != "stable" {
			t.Errorf("tags %v (%v); want stable alone", tags, err)
		}
	})
}

// What changed between the planning pass's read and the apply is seen
// before the first DELETE: a kept tag moved onto a planned digest keeps
// it, as a fresh read would.
func TestApplyOnThePlanningPassReadSeesAKeptTagMoved(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "view/moved"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		planned, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created.Add(time.Hour), "pr-2"); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created.Add(2*time.Hour), "stable"); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, Config{URL: reg.URL})
		batch := planPolicy(t, c, repo, "^pr-")
		if err := reg.Tag(repo, planned.Digest, "stable"); err != nil { // a rollback, after the planning pass
			t.Fatal(err)
		}
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, true, planned.Digest)
		skippedLike(t, report, `kept `+planned.Digest.String()+`: since the plan, stable now point`)
		if report.Deleted != 1 || len(report.Restored) != 0 {
			t.Errorf("report %+v; want pr-2 deleted alone, nothing restored", report)
		}
	})
}

// A planned tag moved onto another image between the planning pass's read
// and the apply: the apply, which does not resolve planned tags again,
// deletes the planned digest, finds the tag still listed afterwards, and
// puts the digest back (left untagged, the policy at apply time does not
// delete it), reporting the item skipped; the image the tag moved to stays.
func TestApplyOnThePlanningPassReadUndoesADeletionWhoseTagsMovedAway(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "view/moved-away"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		planned, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		other, err := reg.PushImage(repo, created.Add(time.Hour), "pr-2")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created.Add(2*time.Hour), "stable"); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, Config{URL: reg.URL})
		batch := planPolicy(t, c, repo, "^pr-")
		rebuilt, err := reg.PushImage(repo, created.Add(3*time.Hour), "pr-1") // CI pushed pr-1 again, after the planning pass
		if err != nil {
			t.Fatal(err)
		}
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, true, planned.Digest, rebuilt.Digest)
		mustExist(t, reg, repo, false, other.Digest)
		skippedLike(t, report, `kept `+planned.Digest.String()+`: since the plan, pr-1 to `+rebuilt.Digest.String()+` moved away`)
		if report.Deleted != 1 {
			t.Errorf("report %+v; want pr-2 deleted alone", report)
		}
		if d, err := reg.Resolve(repo, "pr-1"); err != nil || d != rebuilt.Digest {
			t.Errorf("pr-1 on %v (%v); want %s", d, err, rebuilt.Digest)
		}
	})
}
