package registry

// Review 45: the review 44 fixes (commit 2dce5cd): tags gone ahead
// (journal.ahead), HEAD before putting a digest back, and view.keep (what
// an apply put back untagged it does not delete again), against
// distribution v3 and 2.8 (max_concurrency 1: 16 items a chunk).
//
// Defects (tests below; fixed: the reach of what an apply put back follows
// the subjects of the bodies journaled for deletion, and every item in it
// is skipped; restore always writes the journaled bytes again, HEAD only
// deciding the wording):
//   - view.keep keeps "what it reaches" only for the steps of items that
//     already started (runChunk) and in keptAlive; contradicts skips an
//     item only when its own digest is in view.keep. A manifest put back
//     untagged whose subject (or whose attestation) has its own item in a
//     later chunk: that item deletes it anyway, and nothing puts it
//     back. Seen on v3 and 2.8: the view never read the attestation's
//     body (readSubjects reads only staying tags' bodies; Subjects was
//     empty), so Pinned(view.keep) does not even reach it, and were it
//     reached, contradicts would still not skip it (kept[d] skips only
//     with a staying TAG among usersOf). The image put back ("if it had
//     been moved, retag it") has lost its attestation for good.
//     (review45_keep_test.go)
//   - restore's HEAD before PUT trusts distribution's blob descriptor
//     cache, which a manifest PUT or GET racing the DELETE leaves stale:
//     HEAD answers 200 for a manifest whose revision link is gone, the
//     restore is skipped, and the warning says "put back" for a manifest
//     that a restarted registry (or another instance) no longer serves.
//     (review45_stale_test.go)
//
// Attacks that held (tests kept where noted):
//   - HEAD by digest right after DELETE answers 404 on v3 and 2.8 with
//     the inmemory blob descriptor cache, when nothing races the DELETE
//     (TestReview45HeadAfterDeleteIsNotFound).
//   - journal.performed: a tag gone ahead whose digest is put back later
//     (restoreSuspects, restoreNeeded, the HEAD path) is not reported
//     (p.Digests lacks the digest, unmarked): the replica keeps the digest
//     and the tag (reasoned through all three paths).
//   - a tag gone ahead, pushed again onto the same digest, its item then
//     skipped: the tag is listed, so never "ahead" in lastCheck or verify;
//     restoreNeeded finds the digest there (HEAD) and unmarks it; nothing
//     of the user's push is deleted (reasoned).
//   - verify dropping a tag gone ahead whose own item was skipped because
//     the policy at apply time keeps it: it went, as planned, before the
//     policy changed its mind, as an item of an earlier chunk would
//     (reasoned; consistent with the rest of the apply).
//   - undoMovedAway's "went ahead" stand: only a tag recorded gone with
//     the work's own digest stands it; a tag moved away before the DELETE
//     is listed at the next check, so never recorded (reasoned).
//   - repairDangling cannot delete a digest in view.keep: chunkDeleted
//     leaves out what restore unmarked (reasoned).

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// attested45 pushes to reg, in a fresh repository, n filler images tagged
// "multi-f<i>", an image S tagged "multi-s", an attestation R of S (an
// OCI manifest whose subject is S) tagged "multi-att", and "stable" on
// an image of its own; it returns the repository, S, R and stable's
// image, once S's and R's own deletions fall in different chunks.
func attested45(t *testing.T, reg *testregistry.Registry, c *Client, n int) (string, v1.Hash, v1.Hash, v1.Hash, RetentionPlan) {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		repo := "attested" + string(rune('a'+attempt))
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
		stable, err := reg.PushImage(repo, time.Time{}, "stable")
		if err != nil {
			t.Fatal(err)
		}
		plan := decideRepository(t, c, repo, multi42)
		b := batchOf(repo, plan.Decisions)
		at := func(d v1.Hash) int {
			return slices.IndexFunc(b.Manifests, func(m ManifestDeletion) bool { return m.Digest == d.String() })
		}
		is, ir := at(s.Digest), at(r)
		if is < 0 || ir < 0 {
			t.Fatalf("S (%d) or R (%d) has no deletion of its own: %+v", is, ir, plan.Decisions)
		}
		if is/chunkPerSlot != ir/chunkPerSlot {
			return repo, s.Digest, r, stable.Digest, plan
		}
	}
	t.Fatal("no layout with S and its attestation R in different chunks")
	return "", v1.Hash{}, v1.Hash{}, v1.Hash{}, RetentionPlan{}
}

// A kept tag "stable" moved, in the registry API's window, onto the
// manifest of the earlier of S (an image) and R (its attestation, tagged
// on its own): the DELETE takes stable, and verification, which cannot
// tell where stable had been moved, puts everything that chunk deleted
// back untagged ("if it had been moved, retag it") and into view.keep,
// "kept with what it reaches" (Pinned: subject and referrers). But the
// other of S and R has its own item in a later chunk: contradicts skips
// an item only when its own digest is in view.keep, and kept[d] only
// when a staying TAG uses d (usersOf), which an untagged put-back
// manifest is not. So the later item deletes it: the attestation of the
// image put back, or the subject of the attestation put back. The
// verification after that chunk then puts it back again (keptAlive
// reaches it) with the false reason "a tag that stays points at it", or,
// where the view never read the link, not at all. Either way the apply
// deletes what it decided to keep: the warning's "put back ... retag it"
// promises an image whole, and the DELETE in between is the very window
// the apply exists to avoid (a pull of the image's attestation fails).
func TestReview45PutBackKeepsWhatItNamesFromItsOwnItem(t *testing.T) {
	// Regression test of review 45 (fixed)
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		proxy := newFaultProxy(t, reg.URL)
		pc := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		repo, s, r, _, plan := attested45(t, reg, pc, 40)
		b := batchOf(repo, plan.Decisions)
		first, second := s, r
		if slices.IndexFunc(b.Manifests, func(m ManifestDeletion) bool { return m.Digest == r.String() }) <
			slices.IndexFunc(b.Manifests, func(m ManifestDeletion) bool { return m.Digest == s.String() }) {
			first, second = r, s
		}
		var moved atomic.Bool
		var secondDeletes atomic.Int64
		proxy.setFault(func(_ http.ResponseWriter, req *http.Request) bool {
			if req.Method != http.MethodDelete {
				return false
			}
			if strings.HasSuffix(req.URL.Path, first.String()) && moved.CompareAndSwap(false, true) {
				if err := reg.Tag(repo, first, "stable"); err != nil { // the window: moved right before the DELETE
					t.Error(err)
				}
			}
			if strings.HasSuffix(req.URL.Path, second.String()) {
				secondDeletes.Add(1)
			}
			return false
		})
		report, err := pc.ExecuteBatches(context.Background(), []Batch{b})
		if err != nil || len(report.Lost) > 0 {
			t.Fatalf("apply: %v, lost %q", err, report.Lost)
		}
		t.Logf("first %s (S=%v), second %s\nrestored %q\nskipped %q", first, first == s, second, report.Restored, report.Skipped)
		if !strings.Contains(strings.Join(report.Restored, "\n"), first.String()) {
			t.Fatalf("the warning does not name %s as put back: %q", first, report.Restored)
		}
		if n := secondDeletes.Load(); n > 0 {
			t.Errorf("%s, which %s (put back untagged, kept with what it reaches) names or is named by, was deleted %d time(s) after", second, first, n)
		}
		for _, note := range report.Restored {
			if strings.HasPrefix(note, second.String()) && strings.Contains(note, "a tag that stays points at it") {
				t.Errorf("false reason (no tag points at it): %s", note)
			}
		}
		mustExist(t, reg, repo, true, first, second)
	})
}

// Attack that held (kept): with nothing racing the DELETE, HEAD by
// digest answers 404 at once on both registries (inmemory blob
// descriptor cache, as shipped), also right after a GET that filled the
// cache: restore's HEAD before PUT sees a deleted manifest as deleted.
func TestReview45HeadAfterDeleteIsNotFound(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		c := newClient(t, Config{URL: reg.URL})
		ctx := context.Background()
		for i := 0; i < 20; i++ {
			img, err := reg.PushImage("app", time.Time{}, "t")
			if err != nil {
				t.Fatal(err)
			}
			body44(t, reg, "app", img.Digest) // a GET: the cache holds the descriptor
			if ok, err := c.Exists(ctx, "app", img.Digest.String()); err != nil || !ok {
				t.Fatalf("before: %v %v", ok, err)
			}
			if err := c.DeleteManifest(ctx, "app", img.Digest.String()); err != nil {
				t.Fatal(err)
			}
			if ok, err := c.Exists(ctx, "app", img.Digest.String()); err != nil || ok {
				t.Fatalf("HEAD after DELETE: exists %v, %v", ok, err)
			}
		}
	})
}
