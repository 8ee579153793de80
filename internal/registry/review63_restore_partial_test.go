package registry

// Regression test of review 63 (fixed: a restore that stops names what it wrote back untagged); failed before the fix.
//
// Review 63: a restore whose one manifest PUT fails returns an error that
// names only that manifest; what the waves had already written (other
// images, back by digest but without their tags, as the tags come after
// every wave) goes unsaid. The resource discards progress ("its error says
// all": resource_restore.go execute), so the user is told nothing of it.
//
// What is wrong: ExecuteRestore (restore.go) returns restoreFailed's error
// for the first failing write of a wave; mapParallel keeps only that error,
// and the images written before it (this wave and earlier ones) are not
// mentioned. Since 410718f the images of a wave are written side by side,
// so independent images that succeed are back untagged when another fails.
//
// Why it matters: "the provider never reports a false success" holds, but
// what the registry now serves is not what the error implies (nothing
// restored): images back untagged are what garbage collection with
// delete-untagged, or an untagged-manifest cleanup, removes again; the user
// who reads only "restoring X: 500" does not know to run the restore again
// (which would point their tags back).
//
// Suggested fix: on a failure, say what the restore already wrote (and that
// their tags were not put back), or put back the tags of every image whose
// writes (and its dependencies') succeeded before returning the error.
//
// Reproduce: go test -count=1 -run TestReview63RestoreFailureHidesWhatItWrote ./internal/registry
// (distribution v3 in process, and 2.8).

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview63RestoreFailureHidesWhatItWrote(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review63/restore-partial"
		ctx := context.Background()
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		a, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		b, err := reg.PushImage(repo, created, "pr-2")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 2, RetryMaxAttempts: 1})
		report, err := c.ExecuteBatches(ctx, []Batch{planBatch(t, c, repo, deletePR())})
		if err != nil || report.Deleted != 2 {
			t.Fatalf("apply: deleted %d, %v; want 2", report.Deleted, err)
		}
		planned, err := c.PlanRestore(ctx, RestoreSelection{ApplyID: report.ApplyID})
		if err != nil || len(planned.Images) != 2 {
			t.Fatalf("restore plan: %+v, %v", planned.Images, err)
		}
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+b.Digest.String()) {
				time.Sleep(100 * time.Millisecond) // pr-1's image is written meanwhile
				w.WriteHeader(http.StatusInternalServerError)
				return true
			}
			return false
		})
		err = c.ExecuteRestore(ctx, planned, func(string) {})
		proxy.setFault(nil)
		t.Logf("restore: %v", err)
		if err == nil {
			t.Fatal("the restore succeeded; the scenario wants pr-2's write to fail")
		}
		back, herr := reg.ManifestExists(repo, a.Digest)
		if herr != nil || !back {
			t.Skipf("pr-1's image was not written before the failure (%v, %v): the scenario did not run", back, herr)
		}
		if _, rerr := reg.Resolve(repo, "pr-1"); rerr == nil {
			return // its tag is back too: nothing unsaid
		}
		if !strings.Contains(err.Error(), a.Digest.String()) {
			t.Errorf("the restore wrote %s (pr-1) back, untagged, then failed on %s; its error names only the failure: %v", a.Digest, b.Digest, err)
		}
	})
}
