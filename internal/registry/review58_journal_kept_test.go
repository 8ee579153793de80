package registry

// Regression test of review 58 (fixed: record journals only what a chunk deletes, in a second pass after the last check for what it freed: journal.stored); failed before the fix.
//
// Review 58: the journal records, as deleted by an apply, an index child
// the apply kept.
//
// What is wrong: record (journal.go) journals, since review 57's fix,
// every step of a chunk's items, also the dependents something kept uses
// at journaling time (one may be free by the DELETE). runChunk then keeps
// such a child (a note in the report's skipped list), but its journal
// entry stays in the registry's journal, with the tags it had. Nothing in
// the journal tells a kept entry from a deleted one (journalformat.Entry
// has no such field), and ReadJournal, registry_journal ("one per deleted
// manifest", "the apply that deleted it", "the tags it had when it was
// deleted") and registry_restore (apply_id: "every manifest one apply
// deleted, with every tag it had") take every entry as a deletion.
//
// User-visible consequence: after an apply that kept a planned child
// (tagged since the plan), registry_journal lists that child as deleted by
// the apply, with its tag; once the user removes that tag (a tag the apply
// never removed), registry_restore with the apply's apply_id plans to
// point it at the child again, resurrecting a tag the user deleted.
//
// Suggested fix: journal a dependent kept at journaling time apart from
// the deletions (in memory only, or in a separate entry kind that
// ReadJournal skips), or store, after the chunk, which entries were kept
// (e.g. a follow-up chunk entry marking them), and have ReadJournal and
// selectTargets leave them out.
//
// Reproduce: go test -count=1 -run TestReview58JournalListsAKeptChildAsDeleted ./internal/registry/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

import (
	"context"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview58JournalListsAKeptChildAsDeleted(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review58/journal-kept-child"
		ctx := context.Background()
		index, children, err := reg.PushIndex(repo, []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}, time.Time{}, "multi")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, time.Time{}, "stable"); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, Config{URL: reg.URL})
		planned, err := c.PlanManifestDeletion(ctx, repo, "multi", true)
		if err != nil {
			t.Fatal(err)
		}
		a := children[0]
		if planned.Digest != index.String() || !slices.Contains(planned.Children, a.String()) {
			t.Fatalf("planned %+v; want the index with its children", planned)
		}
		// After the plan, someone tags the platform image A: the apply
		// keeps it.
		if err := reg.Tag(repo, a, "amd64"); err != nil {
			t.Fatal(err)
		}
		report, err := c.ExecuteManifestDeletion(ctx, planned)
		t.Logf("apply: %v\nskipped %q\nrestored %q\nwarnings %q\nlost %q\ndeleted %d", err, report.Skipped, report.Restored, report.Warnings, report.Lost, report.Deleted)
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, false, index)
		mustExist(t, reg, repo, true, a)
		records, err := c.ReadJournal(ctx, JournalFilter{Repository: repo})
		if err != nil {
			t.Fatal(err)
		}
		var apply string
		for _, r := range records {
			apply = r.ApplyID
			if r.Digest == a.String() {
				t.Errorf("the journal (registry_journal) lists %s as deleted by apply %s, with tags %q: the apply kept it", a, r.ApplyID, r.Tags)
			}
		}
		if apply == "" {
			t.Fatal("nothing journaled")
		}
		// The user then removes the tag the apply never touched; a restore
		// of what the apply deleted must not bring it back.
		if err := c.DeleteTag(ctx, repo, "amd64"); err != nil {
			t.Fatal(err)
		}
		restore, err := c.PlanRestore(ctx, RestoreSelection{ApplyID: apply})
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range restore.Images {
			if slices.Contains(img.Tags, "amd64") {
				t.Errorf("registry_restore with apply_id = %q plans to point amd64 at %s again: a tag that apply never removed, deleted by the user since", apply, img.Digest)
			}
		}
	})
}
