package registry

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 37: the report's counts against what the registry serves.

// A DELETE the registry carries out whose answer is lost on the way back
// (a proxy or load balancer timing out, a connection reset): the
// transport retries it (DELETE is retried on connection errors and 5xx),
// the retry answers 404, and deleteJournaled took that for "someone else
// was first: not this apply's deletion": Deleted said 1 of 2 while both
// were gone (applied.deletions_id, the GC trigger, is built from what the
// apply says it did). A 404 after more than one attempt written now
// counts as this apply's deletion.
func TestReview37DeleteWhoseAnswerWasLostIsNotCounted(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review37/lost-answer"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		y, err := reg.PushImage(repo, created, "pr-2")
		if err != nil {
			t.Fatal(err)
		}
		stable, err := reg.PushImage(repo, created, "stable")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 3})
		batch := planBatch(t, c, repo, deletePR())
		var once sync.Once
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodDelete || !strings.HasSuffix(r.URL.Path, x.Digest.String()) {
				return false
			}
			first := false
			once.Do(func() { first = true })
			if !first {
				return false
			}
			// The registry carries it out; the answer never arrives.
			if err := reg.DeleteManifest(repo, x.Digest); err != nil {
				t.Error(err)
			}
			dropConnection(w)
			return true
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		tagIs(t, reg, repo, "stable", stable.Digest)
		mustExist(t, reg, repo, false, x.Digest, y.Digest)
		deletedAsReported(t, reg, repo, report, []v1.Hash{x.Digest, y.Digest}...)
	})
}
