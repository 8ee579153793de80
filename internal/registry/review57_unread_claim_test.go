package registry

// Regression test of review 57 (fixed: unreadTag's loss says to point the tag at its image again, and that the apply's journal holds what it deleted, not the tag); failed before the fix.
//
// Review 57: when verify cannot read where a missing kept tag points now
// (or its own image), the apply stops and its loss says "If it is still
// missing, registry_restore with apply_id = ... puts it back". It does not:
// following that advice leaves the kept tag missing.
//
// What is wrong: unreadTag (repair.go), reached from restoreTag when
// pushedAgain's read (or readIntoJournal's) fails, words the loss of a kept
// tag as something registry_restore undoes. registry_restore puts back
// the manifests an apply deleted, with the tags journaled on them when the
// apply read the repository (record, journal.go). A kept tag is never
// journaled: its own image is not deleted by the apply, and a kept tag the
// view saw on a planned digest would have kept it. A kept tag taken along
// by a DELETE (moved onto the planned image in the registry API's window)
// or removed during the apply is on no journal entry, so no restore
// selection brings it back: by apply_id it is not among the tags
// restored, and by tags the journal "holds no deletion" of it.
//
// User-visible consequence: the apply fails with "tag app:stable went
// during the apply and was not put back on sha256:...: ... If it is still
// missing, registry_restore with apply_id = "..." puts it back"; the user
// runs that restore, which succeeds, and stable is still missing (a
// release tag gone until someone notices and pushes it again).
//
// Reproduce: go test -count=1 -run TestReview57UnreadKeptTagIsNotPutBackByTheRestoreItNames ./internal/registry/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview57UnreadKeptTagIsNotPutBackByTheRestoreItNames(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review57/unread-claim"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		for i := range chunkPerSlot + 1 { // two chunks at max_concurrency 1
			if _, err := reg.PushImage(repo, created, fmt.Sprintf("pr-%02d", i)); err != nil {
				t.Fatal(err)
			}
		}
		stable, err := reg.PushImage(repo, created, "stable")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "v1"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1, RetryMaxAttempts: 1, RetryMaxElapsed: time.Second})
		batch := planBatch(t, c, repo, deletePR())
		var moved, listedAfter, failing atomic.Bool
		var failed atomic.Int32
		var once sync.Once
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/v2/"+repo+"/manifests/sha256:"):
				// stable is moved onto the first planned image as its
				// DELETE is sent (the registry API's window): the DELETE
				// takes it along
				once.Do(func() {
					h, err := v1.NewHash(path.Base(r.URL.Path))
					if err == nil {
						err = reg.Tag(repo, h, "stable")
					}
					if err != nil {
						t.Error(err)
					}
					moved.Store(true)
				})
			case r.Method == http.MethodGet && r.URL.Path == "/v2/"+repo+"/tags/list" && moved.Load():
				// verify's listing (stable missing) starts the failing
				// reads of stable; the next listing ends them
				failing.Store(!listedAfter.Load())
				listedAfter.Store(true)
			case strings.HasSuffix(r.URL.Path, "/manifests/stable") && r.Method != http.MethodPut && failing.Load():
				failed.Add(1) // pushedAgain's read: 503 for as long as the transport retries
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nlost %q", err, report.Lost)
		if failed.Load() == 0 {
			t.Fatal("the hooks did not run: no read of stable failed")
		}
		if got := resolvesTo(t, reg, repo, "stable"); got == stable.Digest.String() {
			t.Fatalf("stable is back on %s after the apply: nothing lost to check the claim against", got)
		}
		claim := regexp.MustCompile(`registry_restore with apply_id = "([^"]+)" puts it back`)
		var applyID string
		for _, l := range report.Lost {
			if m := claim.FindStringSubmatch(l); m != nil && strings.Contains(l, repo+":stable") {
				applyID = m[1]
			}
		}
		if applyID == "" { // the loss says how to put the tag back: on its image
			if !slices.ContainsFunc(report.Lost, func(l string) bool {
				return strings.Contains(l, repo+":stable") && strings.Contains(l, "point it at "+stable.Digest.String()+" again")
			}) {
				t.Errorf("no loss names %s:stable and how to put it back (point it at %s again): %q", repo, stable.Digest, report.Lost)
			}
			return
		}
		// Do as the loss says, from another client.
		other := newClient(t, Config{URL: reg.URL})
		ctx := context.Background()
		planned, err := other.PlanRestore(ctx, RestoreSelection{ApplyID: applyID})
		if err != nil {
			t.Fatalf("planning the restore the loss names: %v", err)
		}
		if err := other.ExecuteRestore(ctx, planned, func(string) {}); err != nil {
			t.Logf("the restore the loss names: %v", err)
		}
		if got := resolvesTo(t, reg, repo, "stable"); got != stable.Digest.String() {
			withStable := 0
			for _, img := range planned.Images {
				if slices.Contains(img.Tags, "stable") {
					withStable++
				}
			}
			_, byTag := other.PlanRestore(ctx, RestoreSelection{Repository: repo, Tags: []string{"stable"}})
			t.Errorf("the apply reported stable lost, saying registry_restore with apply_id = %q puts it back; that restore ran "+
				"(%d image(s), %d of them planned with stable) and stable resolves to %s, not %s (a restore by tags says: %v)",
				applyID, len(planned.Images), withStable, got, stable.Digest, byTag)
		}
	})
}
