package registry

// Regression test of review 51 (fixed): an orphan signature planned for
// deletion stays when its subject comes back during the apply. contradicts
// (execute.go) now skips a manifest deletion that keptAlive keeps through
// its own staying tags (a referrer tag following its kept subject) or
// otherwise (a deployed image), not only when another tag uses it; and the
// view's gone subjects are looked at again before each chunk
// (recheckGoneSubjects: a subject a tag now reaches is back, and those the
// chunk deletes orphans of are asked again, a HEAD each), so the policy
// evaluated again keeps the signature too.
//
// The report: an orphan signature planned for deletion whose subject comes
// back during the apply (keptAlive's referrer settling, 5cfdc4e).
//
// TestReview51SignatureOfARestoredSubjectIsDeleted: image G
// was deleted without its cosign signature S (tag sha256-<G>.sig: an
// apply stopped between a subject and its referrers, or another client),
// so the plan deletes S on its own ("its subject is gone"). While the
// apply runs, G comes back with a tag ("g": registry_restore of the apply
// that deleted it, which the provider does not serialize with a policy's
// apply of the same repository - only executeBatch takes the repository's
// lock - or the image pushed again). The last check before the chunk
// resolves the new tag g onto G, and the policy is evaluated again: but
// the view's GoneSubjects were read once, with the view, and still say G
// is gone (lastCheck finds gone subjects again only for a planning pass's
// view, and only before the first chunk), so the policy still deletes S
// as an orphan. keptAlive does see G kept, and settles S's referrer tag
// as staying, S kept with it; but contradicts skips a kept manifest
// deletion only when a staying tag other than its own uses it (usersOf
// leaves out the tags on the digest itself): no tag but S's own referrer
// tag names S, so S's item runs and its first step, S itself, is deleted
// whatever kept says. The apply succeeds; G, kept by its tag, is unsigned.
// The Safety guide: "A kept image keeps its ... referrers"; "the signature
// of a kept image" stays. On distribution v3 and 2.8.
//
// Run: go test -count=1 -run TestReview51SignatureOfARestoredSubject ./internal/registry/

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

func TestReview51SignatureOfARestoredSubjectIsDeleted(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review51/orphan-signature"
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
		planner := newClient(t, Config{URL: proxy.URL})
		batch := planBatch(t, planner, repo, deletePR())
		if len(batch.Manifests) != 1 || batch.Manifests[0].Digest != sig.Digest.String() {
			t.Fatalf("planned %+v; want the orphan signature %s", batch.Manifests, sig.Digest)
		}
		var once sync.Once
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/"+JournalRepository+"/manifests/") {
				once.Do(func() { // after the apply read the repository, before its last check: G is back, tagged
					if err := remote.Put(ref.Context().Tag("g"), rawManifest{body: body.Manifest, mediaType: body.MediaType}, reg.RemoteOptions()...); err != nil {
						t.Error(err)
					}
				})
			}
			return false
		})
		c := newClient(t, Config{URL: proxy.URL}) // the apply's own read
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nskipped %q\nrestored %q\nlost %q\ndeleted %d", err, report.Skipped, report.Restored, report.Lost, report.Deleted)
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

// TestReview51SignatureOfASubjectPushedBackUntaggedStays: as above, but G
// comes back by digest, untagged (pushed again by digest, or put back by
// hand): no tag reaches it, so only asking the registry again tells the
// signature is no orphan any more; the policy evaluated at apply time
// then keeps it, as a plan would.
func TestReview51SignatureOfASubjectPushedBackUntaggedStays(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review51/orphan-signature-untagged"
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
		planner := newClient(t, Config{URL: proxy.URL})
		batch := planBatch(t, planner, repo, deletePR())
		if len(batch.Manifests) != 1 || batch.Manifests[0].Digest != sig.Digest.String() {
			t.Fatalf("planned %+v; want the orphan signature %s", batch.Manifests, sig.Digest)
		}
		var once sync.Once
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/"+JournalRepository+"/manifests/") {
				once.Do(func() { // after the apply read the repository: G is back, by digest
					if err := remote.Put(ref, rawManifest{body: body.Manifest, mediaType: body.MediaType}, reg.RemoteOptions()...); err != nil {
						t.Error(err)
					}
				})
			}
			return false
		})
		c := newClient(t, Config{URL: proxy.URL})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nskipped %q\nrestored %q\nlost %q\ndeleted %d", err, report.Skipped, report.Restored, report.Lost, report.Deleted)
		if err != nil {
			t.Fatal(err)
		}
		if got := resolvesTo(t, reg, repo, sigTag); got != sig.Digest.String() {
			t.Fatalf("G is back; its signature tag %s resolves to %s (want %s)", sigTag, got, sig.Digest)
		}
		if len(report.Skipped) != 1 || report.Deleted != 0 {
			t.Errorf("skipped %q, deleted %d; want the signature's item skipped with a note", report.Skipped, report.Deleted)
		}
	})
}
