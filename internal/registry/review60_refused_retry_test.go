package registry

// Regression test of review 60 (fixed: a refused DELETE counts as not sent only when no try before the last may have been carried out: deleteTracked, through the transport's per-try observer); failed before the fix.
//
// Review 60: a DELETE carried out by an attempt whose answer was lost, then
// refused at the transport's retry, is withdrawn from the journal.
//
// What is wrong: deleteJournaled (execute.go) calls journal.refused, which
// makes withdrawKept withdraw the entry after the chunk, whenever the
// request's final answer is a refusal (refusedOutright: 401, 403, 405).
// But the answer is that of the transport's last attempt (retryTransport
// retries a 5xx, 429 or a cut connection): an earlier attempt may have
// reached the registry and deleted the manifest, its answer lost (a
// gateway timeout), before the retry was refused in front of the
// registry (a WAF or rate rule answering 403, an authorizing proxy whose
// session expired). deleteJournaled counts those attempts (sent) for the
// "not found" case, and ignores the count for a refusal.
//
// Why it matters: the image is gone, yet the journal no longer lists it:
// registry_journal does not show it, and registry_restore with the
// apply's apply_id cannot put it back ("the journal holds no deletion of
// apply ..."), until garbage collection frees it for good. The journal
// exists for exactly this: a DELETE whose outcome is not known.
//
// Suggested fix: withdraw a refused DELETE only when no attempt of it can
// have been carried out: every attempt answered with a refusal (count, in
// deleteManifestCounting, the attempts that got no answer or a 5xx/429,
// and treat the DELETE as refused only when there were none; a bare
// "sent > 1" is not enough: ggcr's bearer transport resends once after a
// 401 to refresh its token).
//
// Reproduce: go test -count=1 -run TestReview60JournalWithdrawsADeleteCarriedOutBeforeItsRetryWasRefused ./internal/registry
// (distribution v3 in process, and 2.8).

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview60JournalWithdrawsADeleteCarriedOutBeforeItsRetryWasRefused(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review60/retried"
		ctx := context.Background()
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		planned, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 {
			t.Fatalf("planned %+v; want pr-1's image", batch.Manifests)
		}
		// The first attempt reaches the registry, which deletes the
		// manifest; its answer is lost on the way back (a gateway
		// timeout). The retry is refused in front of the registry.
		var attempts atomic.Int32
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodDelete || !strings.HasSuffix(r.URL.Path, "/manifests/"+planned.Digest.String()) {
				return false
			}
			if attempts.Add(1) == 1 {
				if err := reg.DeleteManifest(repo, planned.Digest); err != nil {
					t.Errorf("deleting %s behind the proxy: %v", planned.Digest, err)
				}
				w.WriteHeader(http.StatusGatewayTimeout)
				return true
			}
			deny60(w)
			return true
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nwarnings %q\nlost %q\ndeleted %d", err, report.Restored, report.Warnings, report.Lost, report.Deleted)
		if attempts.Load() < 2 || err == nil {
			t.Fatalf("the scenario did not run: %d DELETE attempt(s) of %s, apply: %v", attempts.Load(), planned.Digest, err)
		}
		mustExist(t, reg, repo, false, planned.Digest) // the first attempt deleted it
		if len(journaledFor60(t, c, repo, planned.Digest.String())) == 0 {
			t.Errorf("the journal (registry_journal) does not list %s (pr-1), which the apply's DELETE deleted: its entry was withdrawn "+
				"because the transport's retry of that DELETE was refused", planned.Digest)
		}
		ids := applyIDs60(t, c)
		if len(ids) != 1 {
			t.Fatalf("the journal names applies %q; want one", ids)
		}
		restore, err := c.PlanRestore(ctx, RestoreSelection{ApplyID: ids[0]})
		if err != nil {
			t.Fatalf("registry_restore with apply_id = %q: %v; want it to put back %s (pr-1), which that apply deleted", ids[0], err, planned.Digest)
		}
		i := slices.IndexFunc(restore.Images, func(img RestoreImage) bool { return img.Digest == planned.Digest.String() })
		if i < 0 || !slices.Contains(restore.Images[i].Tags, "pr-1") {
			t.Errorf("registry_restore with apply_id = %q plans %+v; want %s back with pr-1", ids[0], restore.Images, planned.Digest)
		}
	})
}
