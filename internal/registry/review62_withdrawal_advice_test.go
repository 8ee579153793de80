package registry

// Regression test of review 62 (fixed: putChunks counts chunks of deletions only, a stored withdrawal settles whether an unanswered chunk landed (settleUnsure), and journal.refused drops the digest from deleted); failed before the fix.
//
// Review 62: after the journal's first chunk failed to store, a stored
// withdrawal makes the apply advise registry_restore with its apply_id,
// which then finds no deletion of that apply.
//
// What is wrong: storeJournal (journal.go) counts every chunk it stores in
// putChunks, withdrawals (JournalEntry.Kept, stored after a failure when
// the failed PUT may have landed: putUnsure) included; restoreAdvice takes
// putChunks > 0 for "the registry holds some of this apply's journal" and
// advises "registry_restore with apply_id = ... puts back what this apply
// journaled in the registry before storing its journal failed". When the
// failed PUT did not land and the only chunk stored is a withdrawal, the
// registry's journal holds no deletion of the apply.
//
// Why it matters: an apply that deleted an image and could not check the
// registry afterwards sends the user to registry_restore with its apply_id,
// which answers "the journal holds no deletion of apply ...": advice that
// cannot work, at the moment a kept tag may be missing (the unverified
// case).
//
// Suggested fix: count in putChunks only chunks holding a deletion (an
// entry without Kept), or keep the digests stored as deletions and advise
// registry_restore only for those.
//
// Reproduce: go test -count=1 -run TestReview62AdviceNamesARestoreOfAWithdrawalOnlyJournal ./internal/registry
// (distribution v3 in process, and 2.8).
//
// TestReview62UnverifiedCountsARefusedDelete (same scenario), review 62:
// the apply's error counts a DELETE the registry refused among the
// manifests it deleted ("could not check what the registry serves after
// deleting 2 manifest(s)", one of them refused with 403 and still there).
// journal.refused decrements journal.sent but leaves journal.deleted, so
// chunkDeleted (unverified's count, deletedAny) still counts it, and
// verification treats it as this apply's deletion. Why it matters: the
// provider reports a deletion that did not happen. Suggested fix:
// journal.refused (and a DELETE never sent) also drops the digest from
// deleted when no other DELETE of it may have been carried out (sent
// back to 0).
// Reproduce: go test -count=1 -run TestReview62UnverifiedCountsARefusedDelete ./internal/registry
// (distribution v3 in process, and 2.8).

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

func TestReview62AdviceNamesARestoreOfAWithdrawalOnlyJournal(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		c, deleted, err := withdrawalOnlyJournal62(t, reg, "review62/withdrawal-advice")
		msg := err.Error()
		ids := applyIDs60(t, c)
		if len(ids) != 1 || !strings.Contains(msg, "registry_restore with apply_id = \""+ids[0]+"\"") {
			return // no such advice (or no journal at all): nothing to check
		}
		restore, perr := c.PlanRestore(context.Background(), RestoreSelection{ApplyID: ids[0]})
		if perr != nil || !slices.ContainsFunc(restore.Images, func(img RestoreImage) bool { return img.Digest == deleted.String() }) {
			t.Errorf("the apply advises registry_restore with apply_id = %q, which plans %+v, %v; want %s (pr-1), the deletion the advice is for",
				ids[0], restore.Images, perr, deleted)
		}
	})
}

func TestReview62UnverifiedCountsARefusedDelete(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		_, _, err := withdrawalOnlyJournal62(t, reg, "review62/refused-counted")
		if strings.Contains(err.Error(), "after deleting 2 manifest(s)") {
			t.Errorf("the apply's error counts 2 manifests deleted; it deleted 1 (pr-2's DELETE was refused, pr-2's image is there): %v", err)
		}
	})
}

// withdrawalOnlyJournal62 runs the scenario above: pr-1's image deleted,
// pr-2's DELETE refused, the journal's first chunk not stored, pr-2's
// withdrawal stored, verification failing. It returns the apply's client,
// pr-1's digest and the apply's error.
func withdrawalOnlyJournal62(t *testing.T, reg *testregistry.Registry, repo string) (*Client, v1.Hash, error) {
	t.Helper()
	ctx := context.Background()
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	deleted, err := reg.PushImage(repo, created, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	refusedImg, err := reg.PushImage(repo, created.Add(time.Hour), "pr-2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage(repo, created, "stable"); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 1}) // no cache_dir: no journal file
	batch := planBatch(t, c, repo, deletePR())
	if len(batch.Manifests) != 2 {
		t.Fatalf("planned %+v; want pr-1's and pr-2's images", batch.Manifests)
	}
	// The journal's first chunk: its manifest PUT fails (503, not
	// stored). pr-2's DELETE is refused (403), after pr-1's went
	// through; its withdrawal is stored. Then the registry cannot be
	// read (verification fails).
	var journalPuts atomic.Int32
	var readFails atomic.Bool
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/"+JournalRepository+"/manifests/"):
			if journalPuts.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			readFails.Store(true)
		case r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/manifests/"+refusedImg.Digest.String()):
			time.Sleep(300 * time.Millisecond) // pr-1's DELETE first
			deny60(w)
			return true
		case readFails.Load() && strings.HasPrefix(r.URL.Path, "/v2/"+repo+"/"):
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	report, err := c.ExecuteBatches(ctx, []Batch{batch})
	t.Logf("apply: %v\nrestored %q\nwarnings %q\nlost %q\ndeleted %d", err, report.Restored, report.Warnings, report.Lost, report.Deleted)
	proxy.setFault(nil)
	if journalPuts.Load() < 2 || !readFails.Load() || err == nil {
		t.Fatalf("the scenario did not run: %d journal PUT(s), verification failing %v, apply: %v", journalPuts.Load(), readFails.Load(), err)
	}
	mustExist(t, reg, repo, false, deleted.Digest)
	mustExist(t, reg, repo, true, refusedImg.Digest)
	return c, deleted.Digest, err
}
