package registry

// Regression test of review 61 (fixed: a restore reads each journal chunk's manifest once (readJournal with the repositories it needs), and its apply once per apply); failed before the fix.
//
// Review 61: what a restore by apply_id reads of the journal.
//
// Defect (TestReview61RestoreByApplyIDReadsTheWholeJournalOncePerRepository):
// PlanRestore with an apply_id reads that apply's chunks, then
// journalOfRepositories calls ReadJournal once per repository the apply
// touched, one after the other, and each such call lists the journal's
// tags and GETs the manifest of every chunk of every apply ever stored
// (the repository a chunk belongs to is an annotation of its manifest, so
// the filter is applied only after the GET). ExecuteRestore's
// journaledBodies then reads the apply's own chunks once per repository
// again. For an apply over R repositories, in a journal of K chunks of
// which the apply wrote K_A, a restore costs K_A + R*K + R*K_A manifest
// GETs where K_A + K + K_A suffice (read every chunk's manifest once, then
// the layers of the repositories wanted).
//
// Why it matters: each apply of a policy writes at least one chunk per
// repository it deletes in, and the journal is pruned only by a garbage
// collection run with keep_deleted_within (without one it grows forever).
// A nightly policy over 200 repositories with a week's grace (the Undo
// guide's example) holds about 1,400 chunks: undoing one of its applies
// GETs 200 x 1,400 = 280,000 manifests before its plan shows anything,
// about 17 minutes behind 30 ms of latency at max_concurrency = 8 (and
// Terraform plans it again at apply); without a grace, after a month,
// 1.2 million GETs, over an hour. The safety rules say no rule may depend
// on how fast the registry can be read, and undo is what users reach for
// in a hurry.
//
// Here: 6 repositories, 3 applies each deleting one image in each (18
// chunks, 6 of them the first apply's); restoring the first apply by
// apply_id GETs the journal's chunk manifests 150 times where 30 would do
// (behind 30 ms of latency: the time is logged).
//
// Fix suggestion: read the journal once per restore (ReadJournal with no
// repository filter, or one pass over the chunk manifests that keeps,
// by repository, the chunks' layers to read), and hand journaledBodies
// the bodies PlanRestore read (or one ReadJournal per apply, not per
// apply and repository).
//
// Reproduce: go test -count=1 -run TestReview61RestoreByApplyIDReadsTheWholeJournalOncePerRepository ./internal/registry
// (a cost: distribution v3 in process).

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview61RestoreByApplyIDReadsTheWholeJournalOncePerRepository(t *testing.T) {
	reg := testregistry.Start(t)
	const repos, applies = 6, 3
	ctx := context.Background()
	direct := newClient(t, Config{URL: reg.URL, MaxConcurrency: 8})
	for a := range applies {
		var batches []Batch
		for r := range repos {
			repo := fmt.Sprintf("review61/cost-%d", r)
			if _, err := reg.PushImage(repo, time.Time{}, fmt.Sprintf("pr-%d", a)); err != nil {
				t.Fatal(err)
			}
			if _, err := reg.PushImage(repo, time.Time{}, fmt.Sprintf("keep-%d", a)); err != nil {
				t.Fatal(err)
			}
			batches = append(batches, planPolicy(t, direct, repo, "^pr-"))
		}
		if _, err := direct.ExecuteBatches(ctx, batches); err != nil {
			t.Fatal(err)
		}
	}
	all, err := direct.ReadJournal(ctx, JournalFilter{})
	if err != nil || len(all) == 0 {
		t.Fatalf("journal: %d records, %v", len(all), err)
	}
	first := all[0].ApplyID
	chunkTags, err := reg.Tags(JournalRepository)
	if err != nil {
		t.Fatal(err)
	}
	chunks, ofFirst := 0, 0
	for _, tag := range chunkTags {
		if id, ok := ApplyIDOf(tag); ok {
			chunks++
			if id == first {
				ofFirst++
			}
		}
	}
	proxy := newFaultProxy(t, reg.URL)
	var gets atomic.Int64
	proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/"+JournalRepository+"/manifests/") {
			gets.Add(1)
		}
		return false
	})
	c := newClient(t, Config{URL: testregistry.StartLatencyProxy(t, proxy.URL, 30*time.Millisecond), MaxConcurrency: 8})
	began := time.Now()
	planned, err := c.PlanRestore(ctx, RestoreSelection{ApplyID: first})
	if err != nil {
		t.Fatal(err)
	}
	planGets, planTook := gets.Load(), time.Since(began)
	if len(planned.Images) != repos {
		t.Fatalf("planned %d images; want the %d the first apply deleted", len(planned.Images), repos)
	}
	if err := c.ExecuteRestore(ctx, planned, func(string) {}); err != nil {
		t.Fatal(err)
	}
	total := gets.Load()
	t.Logf("journal: %d chunks, %d of apply %s; chunk manifest GETs: plan %d (%s behind 30 ms), apply %d; total %d in %s",
		chunks, ofFirst, first, planGets, planTook.Round(time.Millisecond), total-planGets, total, time.Since(began).Round(time.Millisecond))
	if bound := int64(chunks + 2*ofFirst + repos); total > bound {
		t.Errorf("a restore by apply_id over %d repositories GET the journal's chunk manifests %d times for a journal of %d chunks (%d of that apply); "+
			"reading each once, and the apply's again at apply, needs at most %d: the cost grows with repositories x every chunk ever journaled",
			repos, total, chunks, ofFirst, bound)
	}
}
