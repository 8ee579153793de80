package registry

// Regression test of review 59 (fixed: a DELETE the registry refused outright (refusedOutright) counts as not sent, and its entry is withdrawn after the chunk); failed before the fix.
//
// Review 59: a manifest whose DELETE the registry refused stays in the
// journal as deleted by the apply.
//
// What is wrong: deleteJournaled (execute.go) calls markDeleted, which
// sets journal.sent, before the request; withdrawKept (journal.go)
// withdraws only what was not sent. A DELETE the registry refuses (403:
// the credentials may not delete, or deletion disabled) leaves the
// manifest, with its tags, where it was, but its entry is not withdrawn.
//
// Consequence: registry_journal lists the image as deleted by the apply,
// with its tags, though the registry never deleted it, and
// registry_restore with that apply_id plans to point those tags back,
// e.g. a tag its owner removed since (review 58's false claim, through a
// refused DELETE).
//
// Suggested fix: also withdraw a journaled step whose DELETE the registry
// answered with a definite refusal (a 4xx other than 404), or that
// verification still finds served after the chunk; not one merely
// unconfirmed (an answer lost: the DELETE may have been carried out).
//
// Reproduce: go test -count=1 -run TestReview59JournalKeepsAnEntryWhoseDeleteWasRefused ./internal/registry/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

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

func TestReview59JournalKeepsAnEntryWhoseDeleteWasRefused(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review59/refused"
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
		var refused atomic.Int32
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/manifests/"+planned.Digest.String()) {
				refused.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
				return true
			}
			return false
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nwarnings %q\nlost %q\ndeleted %d", err, report.Restored, report.Warnings, report.Lost, report.Deleted)
		if refused.Load() == 0 {
			t.Fatal("no DELETE was refused: the scenario did not run")
		}
		mustExist(t, reg, repo, true, planned.Digest)
		tagIs(t, reg, repo, "pr-1", planned.Digest)
		records, err := c.ReadJournal(ctx, JournalFilter{Repository: repo})
		if err != nil {
			t.Fatal(err)
		}
		apply := ""
		for _, r := range records {
			if r.Digest == planned.Digest.String() {
				apply = r.ApplyID
				t.Errorf("the journal (registry_journal) lists %s as deleted by apply %s, with tags %q: the registry refused its DELETE", r.Digest, r.ApplyID, r.Tags)
			}
		}
		if apply == "" {
			return
		}
		// pr-1 is removed later by its owner; a restore of what that apply
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
