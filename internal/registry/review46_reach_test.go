package registry

// Review 46: the review 45 fixes (commit 0c94242): view.keep's reach
// (reachOfKept, keptBack, recordedSubjects) and restore's unconditional
// PUT with HEAD deciding the wording, against distribution v3 and 2.8
// (max_concurrency 1: 16 items a chunk).
//
// Defects (tests below; fixed: verify restores the reach of what it put
// back in the same pass, and names the reason):
//   - what a manifest put back untagged by restoreSuspects reaches that an
//     EARLIER chunk deleted (its subject, or its attestation, each with an
//     item of its own; delete_referrers = false, so neither is a step of
//     the other's item) is restored only by the restoreNeeded of the NEXT
//     chunk's verification: verify calls restoreNeeded before restoreTag
//     (which calls restoreSuspects and grows view.keep). When the put-back
//     manifest's chunk is the last one, nothing restores it: the image put
//     back "if it had been moved, retag it" stays without its attestation
//     (or the attestation without its subject) for good.
//     (TestReview46PutBackInLastChunkLosesWhatItReaches)
//   - when a chunk follows, the next verification does restore it, but
//     with the reason "a tag that stays points at it": no tag points at
//     it (it is the subject or referrer of a manifest put back untagged);
//     a false put-back warning. (TestReview46PutBackReachRestoredWithFalseReason)
//
// Attacks that held:
//   - delete_referrers = true: the attestation is also a step of its
//     subject's item, so it is deleted again (404) in the later chunk,
//     marked in j.chunk, and restoreSuspects puts it back with its subject
//     (reasoned from deleteJournaled/markDeleted; the same for an index
//     child with an item of its own in an earlier chunk: the index's step
//     re-deletes it, so childrenFirst restores it before the index).
//   - a referrer whose own item falls in a LATER chunk than its put-back
//     subject: record (which fills recordedSubjects) runs before lastCheck
//     and judge, so the chunk's judge knows its subject and skips it
//     (review45 test, and reasoned for chunks k+2 and later: the item is
//     not in chunk k+1's DELETEs).
//   - started items: steps of a started item are skipped when in kept
//     (keptBack included), and keptBack changes only in verify, after
//     runChunk; record's digests computed with an older kept only add
//     bodies, never DELETEs (reasoned).
//   - cosign fallback tags: record sets e.Tags from the view, also for an
//     entry first read by readIntoJournal (empty Tags filled), so
//     entryLinks learns the subject (reasoned).
//   - Report.Deleted / Performed after a put-back: restore unmarks the
//     digest, countDeleted and performed require j.deleted (reasoned).

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// multiNoReferrers46 deletes every "multi*" tag, referrers not following
// their subject (delete_referrers = false): a tagged attestation has an
// item of its own, not a step of its subject's.
var multiNoReferrers46 = retention.Policy{Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^multi")}}}

// attested46 pushes n fillers "multi-f<i>", an image S "multi-s", its
// attestation R "multi-att" (subject S), and "stable" on an image of its
// own, until the earlier of S and R (first) is in an earlier chunk than
// the other (second) and second's chunk is the last one (last) or not.
func attested46(t *testing.T, reg *testregistry.Registry, c *Client, n int, last bool) (repo string, first, second v1.Hash, b Batch) {
	t.Helper()
	for attempt := 0; attempt < 40; attempt++ {
		repo = "att46" + string(rune('a'+attempt%26)) + string(rune('a'+attempt/26))
		for i := 0; i < n; i++ {
			if _, err := reg.PushImage(repo, time.Now().Add(-time.Hour), "multi-f"+string(rune('a'+i/26))+string(rune('a'+i%26))); err != nil {
				t.Fatal(err)
			}
		}
		s, err := reg.PushImage(repo, time.Now().Add(-time.Hour), "multi-s")
		if err != nil {
			t.Fatal(err)
		}
		r, err := reg.PushUntaggedReferrer(repo, s.Digest, "att")
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Tag(repo, r, "multi-att"); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, time.Time{}, "stable"); err != nil {
			t.Fatal(err)
		}
		b = batchOf(repo, decideRepository(t, c, repo, multiNoReferrers46).Decisions)
		at := func(d v1.Hash) int {
			return slices.IndexFunc(b.Manifests, func(m ManifestDeletion) bool { return m.Digest == d.String() })
		}
		is, ir := at(s.Digest), at(r)
		if is < 0 || ir < 0 {
			t.Fatalf("S (%d) or R (%d) has no deletion of its own: %+v", is, ir, b.Manifests)
		}
		if slices.Contains(b.Manifests[is].Referrers, r.String()) {
			t.Fatalf("R is a step of S's item: %+v", b.Manifests[is])
		}
		first, second = s.Digest, r
		i1, i2 := is, ir
		if ir < is {
			first, second, i1, i2 = r, s.Digest, ir, is
		}
		lastChunk := (len(b.Manifests) + len(b.Untag) - 1) / chunkPerSlot
		if i1/chunkPerSlot < i2/chunkPerSlot && (i2/chunkPerSlot == lastChunk) == last {
			return repo, first, second, b
		}
	}
	t.Fatal("no layout found")
	return
}

// applyMoving46 applies b through a proxy that moves "stable" onto second
// right before second's DELETE (the registry API's window).
func applyMoving46(t *testing.T, reg *testregistry.Registry, proxy *faultProxy, c *Client, repo string, second v1.Hash, b Batch) Report {
	t.Helper()
	var moved atomic.Bool
	proxy.setFault(func(_ http.ResponseWriter, req *http.Request) bool {
		if req.Method == http.MethodDelete && strings.HasSuffix(req.URL.Path, second.String()) && moved.CompareAndSwap(false, true) {
			if err := reg.Tag(repo, second, "stable"); err != nil {
				t.Error(err)
			}
		}
		return false
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{b})
	if err != nil || len(report.Lost) > 0 {
		t.Fatalf("apply: %v, lost %q", err, report.Lost)
	}
	if !moved.Load() {
		t.Fatal("stable was never moved")
	}
	if !strings.Contains(strings.Join(report.Restored, "\n"), second.String()) {
		t.Fatalf("the warnings do not name %s as put back: %q", second, report.Restored)
	}
	return report
}

// S and its tagged attestation R are both planned (delete_referrers =
// false: neither is a step of the other's item). The earlier of them
// (first) is deleted in chunk 0; "stable" is moved onto the other
// (second) right before its DELETE in the last chunk. Verification puts
// second back untagged (restoreSuspects: "if it had been moved, retag
// it") and into view.keep, whose reach includes first; but restoreNeeded
// ran before restoreTag in that verification, and no chunk follows: first
// stays deleted. The image put back has lost its attestation (or the
// attestation its subject), though the same apply with one more chunk
// would have put it back.
func TestReview46PutBackInLastChunkLosesWhatItReaches(t *testing.T) {
	// Regression test of review 46 (fixed)
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		repo, first, second, b := attested46(t, reg, c, 20, true)
		report := applyMoving46(t, reg, proxy, c, repo, second, b)
		t.Logf("first %s, second %s\nrestored %q\nskipped %q", first, second, report.Restored, report.Skipped)
		mustExist(t, reg, repo, true, second)
		mustExist(t, reg, repo, true, first) // what the put-back manifest names or is named by
	})
}

// The same with a chunk after second's: the next verification's
// restoreNeeded puts first back, but says "a tag that stays points at
// it": no tag points at it.
func TestReview46PutBackReachRestoredWithFalseReason(t *testing.T) {
	// Regression test of review 46 (fixed)
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		repo, first, second, b := attested46(t, reg, c, 36, false)
		report := applyMoving46(t, reg, proxy, c, repo, second, b)
		t.Logf("first %s, second %s\nrestored %q\nskipped %q", first, second, report.Restored, report.Skipped)
		mustExist(t, reg, repo, true, first, second)
		for _, note := range report.Restored {
			if strings.HasPrefix(note, first.String()) && strings.Contains(note, "a tag that stays points at it") {
				t.Errorf("false reason (no tag points at it): %s", note)
			}
		}
	})
}
