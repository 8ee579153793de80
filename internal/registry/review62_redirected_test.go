package registry

// Regression test of review 62 (fixed: any definite answer but 2xx and 404 at every try is a DELETE not carried out (deleteTries), a redirect included); failed before the fix.
//
// Review 62: a DELETE answered with a redirect (never followed: "nothing
// was changed", says the error) stays journaled as deleted by the apply.
//
// What is wrong: noWriteRedirects (transport.go) turns a 3xx answer to a
// DELETE into a RedirectError, whose message says nothing was written or
// deleted. deleteJournaled (execute.go) withdraws a DELETE from the
// journal (journal.refused) only for refusedOutright kinds (401, 403, 405
// unsupported or read-only); a RedirectError is none of them, so the
// entry counted by markDeleted stands, and withdrawKept leaves it.
//
// Why it matters: the apply's own error says the manifest was not
// deleted, while registry_journal lists it as deleted by the apply with
// its tags, and registry_restore with that apply_id plans to point those
// tags back later (a tag its owner removed since comes back: review 59's
// case through a redirecting front end, a maintenance page or a load
// balancer sending writes elsewhere).
//
// Suggested fix: deleteJournaled (or deleteTracked) withdraws every
// DELETE whose every try got a definite answer other than 2xx and 404 (a
// 3xx, a 4xx), not only refusedOutright's kinds; only lost answers and
// 5xx leave the outcome unknown.
//
// Reproduce: go test -count=1 -run TestReview62JournalListsARedirectedDelete ./internal/registry
// (distribution v3 in process, and 2.8).

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview62JournalListsARedirectedDelete(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review62/redirected"
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
		var redirected atomic.Int32
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodDelete || !strings.HasSuffix(r.URL.Path, "/manifests/"+planned.Digest.String()) {
				return false
			}
			redirected.Add(1)
			w.Header().Set("Location", "https://maintenance.example.com/")
			w.WriteHeader(http.StatusTemporaryRedirect)
			return true
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nwarnings %q\nlost %q\ndeleted %d", err, report.Restored, report.Warnings, report.Lost, report.Deleted)
		proxy.setFault(nil)
		if redirected.Load() == 0 || err == nil {
			t.Fatalf("the scenario did not run: %d DELETE(s) redirected, apply: %v", redirected.Load(), err)
		}
		mustExist(t, reg, repo, true, planned.Digest)
		tagIs(t, reg, repo, "pr-1", planned.Digest)
		for _, r := range journaledFor60(t, c, repo, planned.Digest.String()) {
			t.Errorf("the journal (registry_journal) lists %s as deleted by apply %s with tags %q; its DELETE was redirected, never followed, "+
				"and the apply's own error says nothing was changed", r.Digest, r.ApplyID, r.Tags)
		}
	})
}
