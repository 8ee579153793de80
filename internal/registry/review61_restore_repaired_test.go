package registry

// Review 61: restoring by apply_id what an apply deleted when that apply
// repaired something.
//
// TestReview61RestoreByApplyIDAfterARepairedApply (an attack that did not
// break anything when it passes): an apply deletes pr-1's image D while a
// kept tag (stable) is moved onto D in the registry API's window; the
// apply puts stable back where it was and D back, untagged. A restore by
// that apply's id must plan D (present, with pr-1, the tag the apply took)
// and nothing that stays, leave stable where it is, and its apply must put
// pr-1 back on D, behind 30 ms of latency, on distribution v3 and 2.8.

import (
	"context"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview61RestoreByApplyIDAfterARepairedApply(t *testing.T) {
	onBothKinds61(t, func(t *testing.T, start func(testing.TB, ...testregistry.Option) *testregistry.Registry) {
		const repo = "review61/restore-repaired"
		ctx := context.Background()
		reg := start(t)
		d, err := reg.PushImage(repo, time.Time{}, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		s, err := reg.PushImage(repo, time.Time{}, "stable")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: testregistry.StartLatencyProxy(t, proxy.URL, 30*time.Millisecond), MaxConcurrency: 4})
		policy := retention.Policy{Keep: []retention.KeepRule{{Tags: []string{"stable"}}},
			Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^pr-")}}, DeleteReferrers: true}
		b := batchOf(repo, decideRepository(t, c, repo, policy).Decisions)
		b.Policy, b.Now = &policy, time.Now()
		onFirstDeleteOf(proxy, d.Digest.String(), func() {
			if err := reg.Tag(repo, d.Digest, "stable"); err != nil {
				t.Error(err)
			}
		})
		report, err := c.ExecuteBatches(ctx, []Batch{b})
		if err != nil || len(report.Restored) == 0 {
			t.Fatalf("apply: err %v, restored %q; want the race repaired", err, report.Restored)
		}
		proxy.setFault(nil)
		records, err := c.ReadJournal(ctx, JournalFilter{Repository: repo})
		if err != nil || len(records) != 1 {
			t.Fatalf("journal of %s: %+v, %v; want D's deletion", repo, records, err)
		}
		planned, err := c.PlanRestore(ctx, RestoreSelection{ApplyID: records[0].ApplyID})
		if err != nil {
			t.Fatal(err)
		}
		if len(planned.Images) != 1 || planned.Images[0].Digest != d.Digest.String() || !planned.Images[0].Present ||
			!slices.Equal(planned.Images[0].Tags, []string{"pr-1"}) || len(planned.Images[0].MovedTags) > 0 {
			t.Fatalf("restore plan %+v; want %s, present, with pr-1 back", planned.Images, d.Digest)
		}
		if err := c.ExecuteRestore(ctx, planned, func(string) {}); err != nil {
			t.Fatal(err)
		}
		tagIs(t, reg, repo, "pr-1", d.Digest)
		tagIs(t, reg, repo, "stable", s.Digest)
	})
}
