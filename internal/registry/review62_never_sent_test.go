package registry

// Regression test of review 62 (fixed: a DELETE never sent is not this apply's deletion (deleteTries.mayHaveDeleted); a withdrawal the registry cannot take is a warning naming the manifests. The test now asks for that warning where the registry, down, keeps listing it: no client can store the withdrawal there); failed before the fix.
//
// Review 62: a DELETE that was never sent (the registry unreachable from
// the moment after the journal was stored) stays journaled as deleted, and
// the apply's error says it deleted the manifest.
//
// What is wrong: deleteJournaled (execute.go) marks the manifest deleted
// (markDeleted: journal.sent) before deleteTracked, and undoes that
// (journal.refused) only when the registry answered every try with a
// refusal (refusedOutright && !earlier). When no try of the DELETE was
// ever written to a connection (deleteTracked's writer, its /v2/ ping or
// token, failed; or every dial was refused for the whole retry budget: a
// registry restarting), the DELETE certainly was not carried out, but
// deleteJournaled returns the error with the entry still counted as sent:
// withdrawKept leaves the entry standing, and unverified (execute.go)
// counts the manifest in chunkDeleted.
//
// Why it matters: the image is intact with its tags, yet registry_journal
// lists it as deleted by the apply (the review 59 case, reached through an
// outage instead of a refusal): a later registry_restore with that
// apply_id points back tags their owners removed since. And the apply's
// error says "could not check what the registry serves after deleting 1
// manifest(s)" and advises a restore: a false claim of a deletion.
//
// Suggested fix: have deleteTracked also report whether any try of the
// DELETE was written (WroteRequest seen for a DELETE try, or the writer's
// creation failed before any); deleteJournaled treats "never written" like
// a refusal at every try (journal.refused, and unmarkDeleted so that
// chunkDeleted and verification do not count it).
//
// Reproduce: go test -count=1 -run TestReview62JournalListsADeleteNeverSent ./internal/registry
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

func TestReview62JournalListsADeleteNeverSent(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review62/never-sent"
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
		batch := planBatch(t, newClient(t, Config{URL: proxy.URL}), repo, deletePR())
		if len(batch.Manifests) != 1 {
			t.Fatalf("planned %+v; want pr-1's image", batch.Manifests)
		}
		// The apply's client: its DELETE client (writer) is made at the
		// first DELETE, with a ping of /v2/. The registry goes away right
		// after the journal's chunk is stored: from that ping on, every
		// request fails (503 from the gateway in front of it).
		c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 1})
		var stored, down atomic.Bool
		var deletes atomic.Int32
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/"+JournalRepository+"/manifests/") {
				stored.Store(true)
			}
			if stored.Load() && r.Method == http.MethodGet && r.URL.Path == "/v2/" {
				down.Store(true)
			}
			if r.Method == http.MethodDelete {
				deletes.Add(1)
			}
			if down.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nwarnings %q\nlost %q\ndeleted %d", err, report.Restored, report.Warnings, report.Lost, report.Deleted)
		proxy.setFault(nil)
		if !down.Load() || err == nil {
			t.Fatalf("the scenario did not run: registry down %v, apply: %v", down.Load(), err)
		}
		if n := deletes.Load(); n != 0 {
			t.Fatalf("%d DELETE(s) reached the gateway; want none (the registry was down before the first)", n)
		}
		mustExist(t, reg, repo, true, planned.Digest)
		tagIs(t, reg, repo, "pr-1", planned.Digest)
		// The registry is down from the chunk's store on: the entry that
		// withdraws it cannot be stored, and the registry's journal still
		// lists it. The apply withdraws it in its memory (no deletion
		// claimed) and warns, naming it, that the journal may list it.
		direct := newClient(t, Config{URL: reg.URL})
		if len(journaledFor60(t, direct, repo, planned.Digest.String())) > 0 &&
			!slices.ContainsFunc(report.Warnings, func(w string) bool {
				return strings.Contains(w, "may list as deleted") && strings.Contains(w, planned.Digest.String())
			}) {
			t.Errorf("the journal (registry_journal) lists %s as deleted, and no warning says it was not: no DELETE of it was ever sent; warnings %q",
				planned.Digest, report.Warnings)
		}
		if err != nil && strings.Contains(err.Error(), "after deleting 1 manifest(s)") {
			t.Errorf("the apply's error says it deleted a manifest; it sent no DELETE: %v", err)
		}
	})
}
