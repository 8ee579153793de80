package registry

// Regression test of review 52 (fixed: neededBack brings back the orphans of a subject tagged again during the apply); failed before the fix.

// Review 52: an orphan signature whose subject comes back in the registry
// API's window (fix-51b: contradicts skips what keptAlive keeps,
// recheckGoneSubjects in lastCheck).
//
// TestReview52OrphanSignatureDeletedAsItsSubjectComesBack (reported):
// image G was deleted without its cosign signature S (tag
// sha256-<G>.sig), so the plan deletes S on its own ("its subject is
// gone"). G comes back tagged ("g": registry_restore, or the image pushed
// again) after the apply's last check before the chunk, as S's DELETE is
// sent. Review 51's fix looks at gone subjects only before the chunk
// (recheckGoneSubjects); the check after the chunk (verify) sees the new
// tag g on G, but restores only what this apply deleted that what stays
// "needs" (neededBack, repair.go): a staying tag's manifest, an index
// child, a subject, and the referrers of what it puts back. G was not
// deleted by this apply, so S, its signature, is not needed by that rule
// and stays deleted: the apply succeeds, nothing lost or warned, and G,
// kept by its tag, is unsigned. The same race with a tag moved onto a
// planned image is repaired (verify puts it back); a kept image's
// signature is not. The Safety guide: "A kept image keeps its manifest,
// config, layers, index children and referrers", and the window cases it
// names as beyond repair are tags never seen before and dangling tags, not
// a subject coming back. Cause: repair.go neededBack adds a deleted
// referrer only when its subject is itself in needed (deleted by this
// apply and alive), never when its subject stays without having been
// deleted.
//
// Reproduce: REVIEW52_UNSKIP=1 go test -count=1 -run TestReview52OrphanSignatureDeletedAsItsSubjectComesBack ./internal/registry/
// (distribution v3 in process and 2.8).

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview52OrphanSignatureDeletedAsItsSubjectComesBack(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review52/orphan-window"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		g, err := reg.PushImage(repo, created, "tmp")
		if err != nil {
			t.Fatal(err)
		}
		sigTag := fallbackTag48(g.Digest) + ".sig"
		sig, err := reg.PushImage(repo, created, sigTag)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		ref, err := name.NewDigest(strings.TrimPrefix(reg.URL, "http://") + "/" + repo + "@" + g.Digest.String())
		if err != nil {
			t.Fatal(err)
		}
		body, err := remote.Get(ref, reg.RemoteOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.DeleteManifest(repo, g.Digest); err != nil { // G gone, S left behind
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 || batch.Manifests[0].Digest != sig.Digest.String() {
			t.Fatalf("planned %+v; want the orphan signature %s", batch.Manifests, sig.Digest)
		}
		raced := false
		var once sync.Once
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/manifests/"+sig.Digest.String()) {
				once.Do(func() { // after the last check, as S's DELETE is sent: G is back, tagged
					raced = true
					if err := remote.Put(ref.Context().Tag("g"), rawManifest{body: body.Manifest, mediaType: body.MediaType}, reg.RemoteOptions()...); err != nil {
						t.Error(err)
					}
				})
			}
			return false
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nskipped %q\nrestored %q\nlost %q\nwarnings %q\ndeleted %d", err, report.Skipped, report.Restored, report.Lost, report.Warnings, report.Deleted)
		if !raced {
			t.Fatal("S's DELETE was not sent; the race did not run")
		}
		if got := resolvesTo(t, reg, repo, "g"); got != g.Digest.String() {
			t.Fatalf("g resolves to %s; want G %s back", got, g.Digest)
		}
		if err != nil || len(report.Lost) > 0 {
			return // reported, not silent
		}
		if got := resolvesTo(t, reg, repo, sigTag); got != sig.Digest.String() {
			t.Fatalf("apply succeeded; G is back and kept (tag g), but its signature tag %s resolves to %s (want %s)", sigTag, got, sig.Digest)
		}
	})
}
