package registry

// Regression test of review 51 (fixed): the tests below failed before the
// fix (repair.go: repairDangling puts back children first and keeps what
// the repaired tags need, a failed read is no answer, suspects come back
// with their referrer tags; execute.go: fewStaying bounds dangling tags on
// their own). Review 51: what restoreTag puts back "untagged" (repair.go
// restoreSuspects) loses its signature.
//
// TestReview51SuspectPutBackLosesItsSignatureTag (reported): pr-1's image
// X is signed (cosign: signature S tagged sha256-<X>.sig) and planned
// with delete_referrers: X's item deletes X, then S. "stable" (kept) is
// moved onto X in the registry API's window, just before X's DELETE,
// which takes it along. Verification finds stable gone and, since the
// registry API cannot say onto which manifest it had been moved, puts
// back every manifest the chunk deleted, untagged ("if it had been moved,
// retag it"): X and S. But S comes back without its tag sha256-<X>.sig,
// the only link between a cosign signature (no subject in its body) and
// its image on a registry without the referrers API (distribution):
// restoreSuspects calls restore(digest, "") alone, where restoreNeeded
// and undoMovedAway also call restoreReferrerTags. The user retags stable
// onto X as told: X is unsigned (cosign verify, an admission policy find
// no signature), and the next garbage collection with delete_untagged
// frees S, which nothing names. The Safety guide: "A kept image keeps its
// manifest, config, layers, index children and referrers"; "never a kept
// image without its signature"; "every manifest that chunk deleted is put
// back, untagged, and named: nothing is lost". On distribution v3 and
// 2.8.
//
// Reproduce: REVIEW51_UNSKIP=1 go test -count=1 -run TestReview51SuspectPutBack ./internal/registry/

import (
	"context"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview51SuspectPutBackLosesItsSignatureTag(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review51/suspect-signature"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		sigTag := fallbackTag48(x.Digest) + ".sig"
		sig, err := reg.PushImage(repo, created, sigTag) // a cosign signature: no subject in its body
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 || len(batch.Manifests[0].Referrers) != 1 {
			t.Fatalf("planned %+v; want pr-1's image with its signature", batch.Manifests)
		}
		onFirstDeleteOf(proxy, x.Digest.String(), func() { // the registry API's window: stable moved onto X
			if err := reg.Tag(repo, x.Digest, "stable"); err != nil {
				t.Error(err)
			}
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q", err, report.Restored, report.Lost, report.Warnings)
		if err != nil || len(report.Lost) > 0 {
			return // reported, not silent
		}
		xBack, _ := reg.ManifestExists(repo, x.Digest)
		sigBack, _ := reg.ManifestExists(repo, sig.Digest)
		if !xBack || !sigBack {
			t.Fatalf("X back: %v, its signature back: %v; want both put back, untagged", xBack, sigBack)
		}
		if got := resolvesTo(t, reg, repo, sigTag); got != sig.Digest.String() {
			t.Fatalf("apply succeeded; X and its signature are back, but %s resolves to %s (want the signature %s)", sigTag, got, sig.Digest)
		}
	})
}
