package registry

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 36, restores (registry_restore): across repositories by apply
// id, twice, and tags pushed between the restore's plan and its apply.

// One apply over two repositories, restored by its apply id alone: both
// repositories come back whole, with their tags; a second restore of the
// same apply writes nothing and fails on nothing.
func TestReview36RestoreAnApplyAcrossRepositoriesTwice(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		repos := []string{"review36/one", "review36/two"}
		c := newClient(t, Config{URL: reg.URL})
		var batches []Batch
		before := map[string][]string{}
		for _, repo := range repos {
			x, err := reg.PushImage(repo, time.Time{}, "pr-1", "pr-1-latest")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := reg.PushReferrer(repo, x.Digest, "sig"); err != nil {
				t.Fatal(err)
			}
			for _, tag := range []string{"pr-2", "stable"} {
				if _, err := reg.PushImage(repo, time.Time{}, tag); err != nil {
					t.Fatal(err)
				}
			}
			if before[repo], err = reg.Tags(repo); err != nil {
				t.Fatal(err)
			}
			batches = append(batches, planBatch(t, c, repo, deletePR()))
		}
		report, err := c.ExecuteBatches(context.Background(), batches)
		if err != nil || report.Deleted != 4 {
			t.Fatalf("report %+v, err %v; want 4 planned images deleted (their signatures along)", report, err)
		}
		records, err := otherMachine(t, reg).ReadJournal(context.Background(), JournalFilter{})
		if err != nil || len(records) != 6 {
			t.Fatalf("journal: %d records (%v); want 6", len(records), err)
		}
		r := otherMachine(t, reg)
		planned := restore(t, r, RestoreSelection{ApplyID: records[0].ApplyID})
		if got := planned.Repositories(); !slices.Equal(got, repos) {
			t.Errorf("the restore writes to %q; want %q", got, repos)
		}
		for _, repo := range repos {
			if tags, err := reg.Tags(repo); err != nil || !slices.Equal(tags, before[repo]) {
				t.Errorf("%s: tags %q (%v); want %q", repo, tags, err, before[repo])
			}
			mustPull(t, reg, repo, before[repo]...)
		}
		again := restore(t, r, RestoreSelection{ApplyID: records[0].ApplyID})
		if again.Changes() {
			t.Errorf("the second restore plans changes: %+v", again.Images)
		}
	})
}

// overwrite_moved_tags moves back the tags the restore's plan showed as
// moved. A tag the plan showed gone (to be put back) and that someone
// pushed onto a new image between the plan and the apply was not
// reviewed as moved: it is left there, as without overwrite_moved_tags
// (TestRestoreLeavesATagMovedSinceThePlan), and named.
func TestReview36RestoreOverwritesOnlyTagsReviewedAsMoved(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		o := overDelete(t, reg)
		c := otherMachine(t, reg)
		planned, err := c.PlanRestore(context.Background(), RestoreSelection{Digests: []string{o.second.Digest.String()}, OverwriteMovedTags: true})
		if err != nil {
			t.Fatal(err)
		}
		if img := planned.Images[0]; len(img.MovedTags) != 0 {
			t.Fatalf("planned %+v; want no moved tag", img)
		}
		release, err := reg.PushImage("app", time.Time{}, "latest") // a release, after the restore's plan
		if err != nil {
			t.Fatal(err)
		}
		err = c.ExecuteRestore(context.Background(), planned, func(string) {})
		if err == nil || !strings.Contains(err.Error(), "tag app:latest was pushed onto "+release.Digest.String()+" since the plan, which showed it gone") {
			t.Errorf("restore: %v; want latest named, left on the release", err)
		}
		if got := resolvesTo(t, reg, "app", "latest"); got != release.Digest.String() {
			t.Errorf("latest resolves to %s; want it left on %s, pushed after the plan", got, release.Digest)
		}
		mustPull(t, reg, "app", "v2")
	})
}
