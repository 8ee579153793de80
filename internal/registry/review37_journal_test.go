package registry

import (
	"context"
	"slices"
	"testing"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 37: what the journal records when verification had to read a
// manifest into it that the apply had not deleted yet.

// Another client removes a planned tag of the second chunk (a CI job
// deleting pr-19 when its pull request closes, by the tag-delete API, or
// on 2.8 the placeholder) while the first chunk runs. Verification sees
// pr-19 gone though no item that ran removed it, and puts it back on its
// image, which it reads into the journal for that (readIntoJournal: no
// tags, no time). The second chunk then deletes that image, and record
// reused the entry as it was: the journal stored in the registry said the
// manifest carried no tag and was deleted at the zero time (a restore by
// tag could not find pr-19, and GC's keep_deleted_within, which dates
// deletions by the entry's at, would not hold its blobs). record now fills
// in the tags and the time. A planned tag gone brings back only itself,
// not the chunk's manifests (restoreSuspects is for kept tags).
func TestReview37JournalEntryOfAManifestReadForATagPutBack(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review37/journal-entry"
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch, _ := bigRepo(t, reg, c, repo)
		last := batch.Manifests[19]
		onFirstDeleteOf(proxy, batch.Manifests[0].Digest, func() {
			if err := newClient(t, Config{URL: reg.URL}).DeleteTag(context.Background(), repo, last.Tags[0]); err != nil {
				t.Error(err)
			}
		})
		c = newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("report: deleted %d, restored %d, lost %d", report.Deleted, len(report.Restored), len(report.Lost))
		mustExist(t, reg, repo, false, mustHash(t, last.Digest))
		records, err := newClient(t, Config{URL: reg.URL}).ReadJournal(context.Background(), JournalFilter{Repository: repo})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range records {
			if r.Digest != last.Digest {
				continue
			}
			found = true
			if r.At.IsZero() {
				t.Errorf("the journal dates the deletion of %s at the zero time", r.Digest)
			}
			if !slices.Contains(r.Tags, last.Tags[0]) {
				t.Errorf("the journal records %s with tags %q; want %s, the tag it carried when deleted", r.Digest, r.Tags, last.Tags[0])
			}
		}
		if !found {
			t.Errorf("the journal has no record of %s", last.Digest)
		}
	})
}
