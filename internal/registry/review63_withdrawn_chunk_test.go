package registry

// Review 63: putChunks counts a chunk of deletions that the apply then
// withdrew entirely, so restoreAdvice names registry_restore for an apply
// whose journal in the registry lists no deletion: the restore it advises
// finds nothing.
//
// What is wrong: storeJournal counts every stored chunk of deletions in
// putChunks, and nothing takes it back when withdrawKept withdraws every
// entry of that chunk (a tag pushed onto each of its manifests during the
// chunk keeps them; the same for refusals). When a later chunk's store
// fails, restoreAdvice (failed, putChunks > 0) says "registry_restore
// with apply_id = ... puts back what this apply journaled in the registry
// before storing its journal failed". Here (max_concurrency 1, two
// chunks): every manifest of chunk 1 is kept by a tag pushed during it
// (withdrawn, stored); chunk 2's store is answered 500; its two DELETEs go
// through; verification cannot read the registry; the error gives that
// advice, and PlanRestore with the apply_id answers "the journal holds no
// deletion of apply ...".
//
// Why it matters: advice that cannot work, in the unverified case where a
// kept tag may be missing (review 62 aimed restoreAdvice at "registry_restore
// only where it finds something").
//
// Suggested fix: decide from what the stored journal still lists as
// deleted (entries stored and not withdrawn), not from a count of chunks;
// e.g. track per digest whether a stored, unwithdrawn deletion entry
// exists, and name registry_restore only then.
//
// Reproduce: REVIEW63_UNSKIP=1 go test -count=1 -run TestReview63AdviceCountsAWithdrawnChunk ./internal/registry
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

func TestReview63AdviceCountsAWithdrawnChunk(t *testing.T) {
	reported63(t)
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review63/withdrawn-chunk"
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
		var puts, deletes, failReads atomic.Int32
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/"+JournalRepository+"/manifests/"):
				switch puts.Add(1) {
				case 1: // chunk 1's deletions, stored; meanwhile each of them gets a tag that keeps it
					for i, m := range batch.Manifests[:chunkPerSlot] {
						tagAgain(m.Digest, fmt.Sprintf("kept-%02d", i))
					}
				case 3: // chunk 2's deletions: refused
					w.WriteHeader(http.StatusInternalServerError)
					return true
				}
			case r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/manifests/"):
				if deletes.Add(1) == 2 { // chunk 2's last DELETE: then the registry cannot be read
					failReads.Store(1)
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
		if puts.Load() < 3 || deletes.Load() != 2 || err == nil || report.Deleted == 0 {
			t.Fatalf("the scenario did not run: %d journal PUTs, %d deleted, apply: %v", puts.Load(), report.Deleted, err)
		}
		ids := applyIDs60(t, c)
		if len(ids) != 1 {
			t.Fatalf("the journal names applies %q; want one", ids)
		}
		restore, perr := c.PlanRestore(ctx, RestoreSelection{ApplyID: ids[0]})
		t.Logf("registry_restore with apply_id = %q plans %d image(s): %v", ids[0], len(restore.Images), perr)
		if msg := err.Error(); strings.Contains(msg, fmt.Sprintf("registry_restore with apply_id = %q puts back", ids[0])) && (perr != nil || len(restore.Images) == 0) {
			t.Errorf("the apply's error advises registry_restore with apply_id = %q, whose plan finds nothing (%v): the registry holds only a chunk whose every entry it withdrew.\n%v", ids[0], perr, err)
		}
	})
}
