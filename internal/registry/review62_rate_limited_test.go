package registry

// Regression test of review 62 (fixed: a 429 is a refusal, not an answer lost (deleteTries)); failed before the fix.
//
// Review 62: a DELETE rate-limited (429) and then refused (403) at its
// retry, never carried out, stays journaled as deleted by the apply.
//
// What is wrong: deleteTracked (delete.go) counts a try answered 429 Too
// Many Requests as one that "may have been carried out", like a lost
// answer or a 5xx. A 429 is a refusal to process the request (RFC 6585:
// the server rejects it for the rate of requests), not an unknown outcome.
// When the transport's retry after it (honouring Retry-After) is refused
// outright (a 403 from the same gateway, a token or session that lapsed
// meanwhile), deleteJournaled sees earlier=true and does not call
// journal.refused: the entry stays, though every try was refused.
//
// Why it matters: the manifest and its tags are where they were, but
// registry_journal lists the image as deleted by the apply with its tags;
// a registry_restore with that apply_id later points back a tag its owner
// removed since (review 59's case, through a rate limiter in front of the
// registry: the very gateways that also answer 403).
//
// Suggested fix: in deleteTracked's observer, count as "may have been
// carried out" only a try whose answer was lost (err != nil) or a 5xx;
// 429 (and other 4xx) answers mean the request was not processed.
//
// Reproduce: go test -count=1 -run TestReview62JournalListsADeleteRateLimitedThenRefused ./internal/registry
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

func TestReview62JournalListsADeleteRateLimitedThenRefused(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review62/rate-limited"
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
		// The gateway in front of the registry rate-limits the DELETE
		// (429, Retry-After: 0), then refuses its retry (403): neither
		// reaches the registry.
		var attempts atomic.Int32
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodDelete || !strings.HasSuffix(r.URL.Path, "/manifests/"+planned.Digest.String()) {
				return false
			}
			if attempts.Add(1) == 1 {
				w.Header().Set("Retry-After", "0")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limit exceeded"}]}`))
				return true
			}
			deny60(w)
			return true
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nwarnings %q\nlost %q\ndeleted %d", err, report.Restored, report.Warnings, report.Lost, report.Deleted)
		proxy.setFault(nil)
		if attempts.Load() != 2 || err == nil {
			t.Fatalf("the scenario did not run: %d DELETE attempt(s) of %s (want 429 then 403), apply: %v", attempts.Load(), planned.Digest, err)
		}
		mustExist(t, reg, repo, true, planned.Digest)
		tagIs(t, reg, repo, "pr-1", planned.Digest)
		apply := ""
		for _, r := range journaledFor60(t, c, repo, planned.Digest.String()) {
			apply = r.ApplyID
			t.Errorf("the journal (registry_journal) lists %s as deleted by apply %s with tags %q: both tries of its DELETE were refused (429, then 403)",
				r.Digest, r.ApplyID, r.Tags)
		}
		if apply == "" {
			return
		}
		// pr-1's owner removes it later; a restore of what that apply
		// deleted (nothing) must not bring it back.
		if err := c.DeleteTag(ctx, repo, "pr-1"); err != nil {
			t.Fatal(err)
		}
		restore, err := c.PlanRestore(ctx, RestoreSelection{ApplyID: apply})
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range restore.Images {
			if slices.Contains(img.Tags, "pr-1") {
				t.Errorf("registry_restore with apply_id = %q plans to point pr-1 at %s again: that apply deleted nothing", apply, img.Digest)
			}
		}
	})
}
