package registry

import (
	"context"
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

// Review 37: two applies on the same repository at once (two machines
// applying the same configuration, or two policies of one configuration
// whose repositories overlap: Terraform applies them side by side).

// Both apply the same plan; the second runs entirely inside the first's
// first DELETE. Every planned image goes, stable stays, nothing is lost,
// and the two reports together count each deletion once: holds.
func TestReview37TwoAppliesOfTheSamePlan(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review37/two-applies"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		var planned []v1.Hash
		for _, tag := range []string{"pr-1", "pr-2", "pr-3"} {
			img, err := reg.PushImage(repo, created, tag)
			if err != nil {
				t.Fatal(err)
			}
			planned = append(planned, img.Digest)
		}
		stable, err := reg.PushImage(repo, created, "stable")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		a := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batchA := planBatch(t, a, repo, deletePR())
		b := newClient(t, Config{URL: reg.URL})
		batchB := planBatch(t, b, repo, deletePR())
		var reportB Report
		onFirstDeleteOf(proxy, batchA.Manifests[0].Digest, func() {
			var err error
			if reportB, err = b.ExecuteBatches(context.Background(), []Batch{batchB}); err != nil {
				t.Error(err)
			}
		})
		reportA, err := a.ExecuteBatches(context.Background(), []Batch{batchA})
		if err != nil {
			t.Fatal(err)
		}
		tagIs(t, reg, repo, "stable", stable.Digest)
		mustExist(t, reg, repo, false, planned...)
		if reportA.Deleted+reportB.Deleted != len(planned) || len(reportA.Lost)+len(reportB.Lost) != 0 {
			t.Errorf("reports %+v and %+v; want %d deletions between them, nothing lost", reportA, reportB, len(planned))
		}
	})
}

// Two policies over one repository: A removes the tag old-1 from an image
// that keeps v1 (an untag), B deletes the pr- images and keeps old-1 (no
// rule of B's matches it). A runs while B's chunk deletes. B's
// verification finds old-1 gone though none of its items removed it,
// cannot tell a removal from a move onto one of its deleted manifests, and
// so re-creates old-1 and puts its whole chunk back untagged. A's report
// says old-1 was removed; the registry serves it. (Report's own comment
// files "a tag another client removed" under Warnings: noticed and left.)
func TestReview37ConcurrentApplyRecreatesATagAnotherApplyRemoved(t *testing.T) {
	reported(t, "an apply's verification re-creates a tag another apply of the same repository removed meanwhile, and undoes its own chunk (two processes; one client takes turns: TestTwoAppliesOfOneRepositoryInOneClientTakeTurns)")
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review37/untag-race"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		d, err := reg.PushImage(repo, created, "v1", "old-1")
		if err != nil {
			t.Fatal(err)
		}
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		b := newClient(t, Config{URL: proxy.URL})
		batchB := planBatch(t, b, repo, deletePR())
		a := newClient(t, Config{URL: reg.URL})
		batchA := planBatch(t, a, repo, retention.Policy{Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^old-")}}})
		if len(batchA.Untag) != 1 || len(batchA.Manifests) != 0 {
			t.Fatalf("A planned %+v; want old-1 untagged", batchA)
		}
		var reportA Report
		onFirstDeleteOf(proxy, x.Digest.String(), func() {
			var err error
			if reportA, err = a.ExecuteBatches(context.Background(), []Batch{batchA}); err != nil {
				t.Error(err)
			}
		})
		reportB, err := b.ExecuteBatches(context.Background(), []Batch{batchB})
		if err != nil {
			t.Fatal(err)
		}
		tagIs(t, reg, repo, "v1", d.Digest)
		if reportA.Untagged != 1 {
			t.Fatalf("A's report %+v; want old-1 removed", reportA)
		}
		if got := resolvesTo(t, reg, repo, "old-1"); got == d.Digest.String() {
			t.Errorf("old-1, which A reports removed, is on %s again (B's verification: %q)", got, reportB.Restored)
		}
		deletedAsReported(t, reg, repo, reportB, x.Digest)
		mustExist(t, reg, repo, false, x.Digest)
	})
}

// The same two policies in one provider process (one client, as two
// resources over overlapping patterns are): the client applies one
// repository's batches one after the other, so B's verification never
// sees A's untag as someone else's, and both do what they planned.
func TestTwoAppliesOfOneRepositoryInOneClientTakeTurns(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review37/untag-turns"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		d, err := reg.PushImage(repo, created, "v1", "old-1")
		if err != nil {
			t.Fatal(err)
		}
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		batchB := planBatch(t, c, repo, deletePR())
		batchA := planBatch(t, c, repo, retention.Policy{Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^old-")}}})
		started := make(chan struct{})
		var reportA Report
		var errA error
		done := make(chan struct{})
		var once sync.Once
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, x.Digest.String()) {
				once.Do(func() {
					go func() { // A starts during B's DELETE, and waits its turn
						defer close(done)
						close(started)
						reportA, errA = c.ExecuteBatches(context.Background(), []Batch{batchA})
					}()
					<-started
					time.Sleep(200 * time.Millisecond) // time for A to run, were it not waiting
				})
			}
			return false
		})
		reportB, err := c.ExecuteBatches(context.Background(), []Batch{batchB})
		if err != nil {
			t.Fatal(err)
		}
		<-done
		if errA != nil {
			t.Fatal(errA)
		}
		tagIs(t, reg, repo, "v1", d.Digest)
		if got := resolvesTo(t, reg, repo, "old-1"); got == d.Digest.String() {
			t.Errorf("old-1, which A reports removed (%+v), is on %s again (B: %+v)", reportA, got, reportB)
		}
		mustExist(t, reg, repo, false, x.Digest)
		if reportB.Deleted != 1 || len(reportB.Restored) != 0 {
			t.Errorf("B's report %+v; want pr-1's image deleted, nothing restored", reportB)
		}
	})
}
