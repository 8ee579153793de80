package registry

// Regression test of review 63 (fixed: restoreAdvice asks which deletion entries stand in the registry (journal.standing, set by the chunks that landed in chunk order), not a count of chunks); failed before the fix.
//
// Review 63: settleUnsure counts a withdrawal chunk that landed as a chunk
// of deletions, so restoreAdvice names registry_restore for an apply whose
// journal in the registry holds withdrawals only: the restore it advises
// finds no deletion of the apply.
//
// What is wrong: storeJournal appends the tag of every chunk whose PUT got
// no answer to unsureTags, withdrawals included (the review 60 path that
// keeps storing withdrawals while putUnsure). settleUnsure, after a later
// withdrawal is stored, adds to putChunks every unsure tag the registry
// holds, without telling a withdrawal chunk from a chunk of deletions.
// putChunks is meant to count "chunks of deletions only" (review 62's fix,
// "so restoreAdvice names registry_restore only where it finds
// something"). Here (max_concurrency 1, two chunks): chunk 1's PUT (its
// deletions) is lost before reaching the registry; a tag pushed onto one
// of its manifests keeps it, and that entry's withdrawal is stored but its
// answer lost; in chunk 2 a tag pushed again keeps one more, whose
// withdrawal is stored; settleUnsure finds the first withdrawal chunk and
// counts it; verification after chunk 2 cannot read the registry, and the
// error says "registry_restore with apply_id = ... puts back what this
// apply journaled in the registry", which holds no deletion of it
// (PlanRestore: "the journal holds no deletion of apply ...").
//
// Why it matters: the provider must never give advice that cannot work;
// this is the unverified case (a kept tag may be missing), where the user
// follows it first.
//
// Suggested fix: record unsure tags with whether they are withdrawals
// (or only append deletion chunks' tags to a list settleUnsure counts),
// and count only landed chunks of deletions in putChunks.
//
// Reproduce: go test -count=1 -run TestReview63SettleCountsAWithdrawalAsDeletions ./internal/registry
// (distribution v3 in process, and 2.8).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview63SettleCountsAWithdrawalAsDeletions(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review63/settle-withdrawal"
		ctx := context.Background()
		for i := range chunkPerSlot + 2 { // two chunks at max_concurrency 1
			if _, err := reg.PushImage(repo, time.Date(2026, 7, 1, 0, i, 0, 0, time.UTC), fmt.Sprintf("pr-%02d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := reg.PushImage(repo, time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC), "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 1, MaxConcurrency: 1}) // no cache_dir: no journal file
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != chunkPerSlot+2 {
			t.Fatalf("planned %d manifests; want %d", len(batch.Manifests), chunkPerSlot+2)
		}
		forward := func(r *http.Request) error {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return err
			}
			req, err := http.NewRequest(r.Method, reg.URL+r.URL.Path, bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				return fmt.Errorf("the registry answered %s", resp.Status)
			}
			return nil
		}
		// A tag pushed onto a planned manifest while a chunk runs keeps it
		// (the chunk's last look): its entry is withdrawn, and the apply
		// goes on.
		tagAgain := func(digest, tag string) {
			get, _ := http.NewRequest(http.MethodGet, reg.URL+"/v2/"+repo+"/manifests/"+digest, nil)
			get.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
			resp, err := http.DefaultClient.Do(get)
			if err != nil {
				t.Errorf("reading %s: %v", digest, err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			put, _ := http.NewRequest(http.MethodPut, reg.URL+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(body))
			put.Header.Set("Content-Type", resp.Header.Get("Content-Type"))
			presp, err := http.DefaultClient.Do(put)
			if err != nil || presp.StatusCode != http.StatusCreated {
				t.Errorf("tagging %s as %s: %v %v", digest, tag, err, presp)
				return
			}
			_ = presp.Body.Close()
		}
		first, last := batch.Manifests[0].Digest, batch.Manifests[chunkPerSlot].Digest
		var puts, failReads atomic.Int32
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/"+JournalRepository+"/manifests/"):
				switch puts.Add(1) {
				case 1: // chunk 1, its deletions: lost on the way, never stored
					tagAgain(first, "kept-1")
					dropConnection(w)
					return true
				case 2: // chunk 1's withdrawal: stored, its answer lost
					if err := forward(r); err != nil {
						t.Errorf("forwarding the withdrawal: %v", err)
					}
					tagAgain(last, "kept-2")
					dropConnection(w)
					return true
				default: // chunk 2's withdrawal: stored; then the registry cannot be read
					failReads.Store(1)
					return false
				}
			case failReads.Load() == 1 && strings.HasPrefix(r.URL.Path, "/v2/"+repo+"/"):
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nwarnings %q\ndeleted %d", err, report.Warnings, report.Deleted)
		proxy.setFault(nil)
		if puts.Load() < 3 || err == nil || report.Deleted == 0 {
			t.Fatalf("the scenario did not run: %d journal PUTs, %d deleted, apply: %v", puts.Load(), report.Deleted, err)
		}
		ids := applyIDs60(t, c)
		if len(ids) != 1 {
			t.Fatalf("the journal names applies %q; want one", ids)
		}
		restore, perr := c.PlanRestore(ctx, RestoreSelection{ApplyID: ids[0]})
		t.Logf("registry_restore with apply_id = %q plans %d image(s): %v", ids[0], len(restore.Images), perr)
		if msg := err.Error(); strings.Contains(msg, fmt.Sprintf("registry_restore with apply_id = %q puts back", ids[0])) && (perr != nil || len(restore.Images) == 0) {
			t.Errorf("the apply's error advises registry_restore with apply_id = %q, whose plan finds nothing (%v): the registry holds only withdrawals of it.\n%v", ids[0], perr, err)
		}
	})
}
