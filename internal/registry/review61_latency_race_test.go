package registry

// Review 61: races behind latency, several chunks, max_concurrency > 1,
// with a replica following the primary's report.
//
// TestReview61LatencyRaceAcrossChunksKeepsWhatStays (an attack that did
// not break anything when it passes): 80 planned images (three chunks at
// max_concurrency = 2), kept tags stable and v01..v20, behind 30 ms of
// latency; while the apply runs, stable is moved onto a planned image of
// the second chunk, and v03 onto one of the third, each in the registry
// API's window (at its DELETE). The apply must end without a loss or an
// error, every kept tag must resolve to a manifest the registry serves,
// and what Report.Performed says was deleted (what replicas follow) must
// be gone from the primary; the replica, following it, must keep every
// kept tag.

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview61LatencyRaceAcrossChunksKeepsWhatStays(t *testing.T) {
	onBothKinds61(t, func(t *testing.T, start func(testing.TB, ...testregistry.Option) *testregistry.Registry) {
		const repo = "review61/race"
		const planned = 80
		primary, replica := start(t), start(t)
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		if _, err := primary.SeedTags(repo, planned, func(i int) string { return fmt.Sprintf("pr-%03d", i) }, func(int) time.Time { return created }); err != nil {
			t.Fatal(err)
		}
		kept := []string{"stable"}
		for i := 1; i <= 20; i++ {
			kept = append(kept, fmt.Sprintf("v%02d", i))
		}
		for _, tag := range kept {
			if _, err := primary.PushImage(repo, created, tag); err != nil {
				t.Fatal(err)
			}
		}
		tags, err := primary.Tags(repo)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range tags {
			if err := primary.CopyTo(replica, repo, tag); err != nil {
				t.Fatal(err)
			}
		}
		proxy := newFaultProxy(t, primary.URL)
		pc := newClient(t, Config{URL: testregistry.StartLatencyProxy(t, proxy.URL, 30*time.Millisecond), MaxConcurrency: 2})
		rc := newClient(t, Config{URL: testregistry.StartLatencyProxy(t, replica.URL, 30*time.Millisecond), MaxConcurrency: 2})
		policy := retention.Policy{Keep: []retention.KeepRule{{Tags: []string{"stable"}}, {TagRegex: regexp.MustCompile("^v")}},
			Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile(".")}}, DeleteReferrers: true}
		plan := decideRepository(t, pc, repo, policy)
		rplan := planReplica41(t, rc, repo, plan.Decisions)
		b := batchOf(repo, plan.Decisions)
		b.Policy, b.Now = &policy, time.Now()
		if len(b.Manifests) != planned {
			t.Fatalf("planned %d manifest deletions; want %d", len(b.Manifests), planned)
		}
		races := map[string]string{b.Manifests[40].Digest: "stable", b.Manifests[70].Digest: "v03"} // chunks 2 and 3 (chunkPerSlot x 2 a chunk)
		done := map[string]bool{}
		proxy.setFault(raceOnDelete61(t, primary, repo, races, done))
		began := time.Now()
		report, err := pc.ExecuteBatches(context.Background(), []Batch{b})
		t.Logf("primary apply in %s: deleted %d; restored %q; skipped %d; warnings %q; lost %q; err %v",
			time.Since(began).Round(time.Millisecond), report.Deleted, report.Restored, len(report.Skipped), report.Warnings, report.Lost, err)
		if err != nil || len(report.Lost) > 0 {
			t.Fatalf("primary apply: err %v, lost %q", err, report.Lost)
		}
		for digest, tag := range races {
			if !done[digest] {
				t.Fatalf("the race on %s (%s) did not happen", digest, tag)
			}
		}
		for _, tag := range kept {
			got := resolvesTo(t, primary, repo, tag)
			if strings.HasPrefix(got, "error") {
				t.Errorf("primary: kept tag %s: %s", tag, got)
				continue
			}
			mustExist(t, primary, repo, true, mustHash61(t, got))
		}
		performed := report.Performed[repo]
		for d := range performed.Digests {
			if found, err := primary.ManifestExists(repo, mustHash61(t, d)); err != nil || found {
				t.Errorf("Performed says %s was deleted on the primary, which serves it (%v)", d, err)
			}
		}
		for tag := range performed.Tags {
			if got := resolvesTo(t, primary, repo, tag); !strings.HasPrefix(got, "error") {
				t.Errorf("Performed says tag %s was removed on the primary, where it names %s", tag, got)
			}
		}
		if report.Deleted != len(performed.Digests) {
			t.Errorf("report.Deleted = %d, Performed names %d deleted digests", report.Deleted, len(performed.Digests))
		}
		rreport := applyReplica41(t, rc, repo, rplan, performed)
		if len(rreport.Lost) > 0 {
			t.Errorf("replica lost %q", rreport.Lost)
		}
		for _, tag := range kept {
			if got := resolvesTo(t, replica, repo, tag); strings.HasPrefix(got, "error") {
				t.Errorf("replica: kept tag %s: %s", tag, got)
			}
		}
		pTags, _ := primary.Tags(repo)
		rTags, _ := replica.Tags(repo)
		t.Logf("after both applies: %d tags on the primary, %d on the replica (replica: %d restored, %d skipped)", len(pTags), len(rTags), len(rreport.Restored), len(rreport.Skipped))
		for digest, tag := range races {
			t.Logf("race %s on %s: exists on the primary %v, on the replica %v", tag, digest, existsOn61(t, primary, repo, digest), existsOn61(t, replica, repo, digest))
		}
	})
}

// raceOnDelete61 moves tag onto digest (races: digest -> tag) when the
// first DELETE of digest reaches the proxy, before the registry handles
// it; done records which races happened.
func raceOnDelete61(t *testing.T, reg *testregistry.Registry, repo string, races map[string]string, done map[string]bool) func(http.ResponseWriter, *http.Request) bool {
	var mu sync.Mutex
	return func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodDelete {
			return false
		}
		for digest, tag := range races {
			if !strings.HasSuffix(r.URL.Path, digest) {
				continue
			}
			mu.Lock()
			first := !done[digest]
			done[digest] = true
			mu.Unlock()
			if first {
				if err := reg.Tag(repo, mustHash61(t, digest), tag); err != nil {
					t.Error(err)
				}
			}
		}
		return false
	}
}

func mustHash61(t *testing.T, digest string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(digest)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func existsOn61(t *testing.T, reg *testregistry.Registry, repo, digest string) bool {
	t.Helper()
	found, err := reg.ManifestExists(repo, mustHash61(t, digest))
	if err != nil {
		t.Fatal(err)
	}
	return found
}
