package registry

// Regression test of review 51 (fixed): the tests below failed before the
// fix (repair.go: repairDangling puts back children first and keeps what
// the repaired tags need, a failed read is no answer, suspects come back
// with their referrer tags; execute.go: fewStaying bounds dangling tags on
// their own). Review 51: repairDangling (repair.go) restores the tagged manifest
// alone, in the order the chunk deleted: three tests below (an index, an
// attestation's subject, a signature), one cause: it puts back neither
// what the manifest it repairs needs (children first, its subject) nor
// what goes with it (its referrers and their tags), unlike restoreNeeded,
// and it takes a refused PUT for "not this one".
//
// TestReview51RetaggedIndexDanglingIsNotRepaired (reported): a
// multi-arch image I (tag pr-1, two platform children) is planned for
// deletion with its children. During the apply, someone retags I
// ("crane tag app:pr-1 rel", "docker buildx imagetools create --tag":
// a PUT of the same index bytes under a new tag) and the push's tag
// link lands as the registry handles the apply's DELETE of I: "rel" is
// listed and resolves to nothing (the race testregistry.DanglingTag and
// review 50's pushDuringDelete write into the storage). The item's next
// steps delete I's children. Verification sees the new name dangling and
// calls repairDangling, which PUTs each manifest the chunk deleted, by
// digest, in the order they were deleted (j.chunkDeleted), and checks
// whether the tag resolves. The index comes first, and the registry
// refuses it: its children are deleted (distribution validates an index's
// children on PUT, v3 and 2.8 alike). repairDangling ignores the refused
// PUT (`continue`), puts each child back and deletes it again (the tag
// does not resolve to a child), and ends with a warning "appeared during
// the apply and resolves to no manifest: left as it is". Nothing is
// counted lost: the apply succeeds, the kept tag rel (pushed after the
// plan) resolves to nothing, and the image it named is gone with its
// children. The same race for an image (review 50's "new-name") is
// repaired: only an index, which needs its children back first (as
// restoreNeeded and restoreSuspects do, childrenFirst), is lost. Also: a
// PUT refused for any reason is not reported as a loss.
//
// Reproduce: REVIEW51_UNSKIP=1 go test -count=1 -run TestReview51RetaggedIndexDangling ./internal/registry/
// (distribution v3 in process and 2.8).

import (
	"context"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview51RetaggedIndexDanglingIsNotRepaired(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review51/dangling-index"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		index, children, err := reg.PushIndex(repo, []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 || len(batch.Manifests[0].Children) != 2 {
			t.Fatalf("planned %+v; want pr-1's index with its two children", batch.Manifests)
		}
		pushDuringDelete(t, proxy, reg, repo, "rel", index)
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Deleted)
		if err != nil || len(report.Lost) > 0 {
			return // reported, not silent
		}
		got := resolvesTo(t, reg, repo, "rel")
		missing := 0
		for _, child := range children {
			if ok, _ := reg.ManifestExists(repo, child); !ok {
				missing++
			}
		}
		if got != index.String() || missing > 0 {
			t.Fatalf("apply succeeded, nothing lost; rel resolves to %s (want %s), %d of its children missing", got, index, missing)
		}
	})
}

// TestReview51TaggedAttestationDanglingLosesItsSubject (reported): the
// same race, on an attestation: image X (pr-1) is planned with its
// attestation A (an OCI manifest whose subject is X, tag sha256-<X>.att).
// During the apply someone tags A "provenance" (a tag on an attestation
// keeps the image it attests: Safety guide, "What counts as kept"), and
// the tag link lands as the registry handles the apply's DELETE of A,
// after X's. repairDangling puts back X, finds "provenance" still
// resolving to nothing, deletes X again, then puts back A, which the tag
// now resolves to: "restored A with tag provenance". But it restores
// nothing A needs (unlike restoreNeeded: repairDangling does not add to
// view.keep, so verify's closing restoreNeeded does not run), and this was
// the last chunk: the apply succeeds, reports the attestation restored,
// and the image it attests, kept by it, stays deleted.
func TestReview51TaggedAttestationDanglingLosesItsSubject(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review51/dangling-attestation"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		att, err := reg.PushReferrer(repo, x.Digest, "att")
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
			t.Fatalf("planned %+v; want pr-1's image with its attestation", batch.Manifests)
		}
		pushDuringDelete(t, proxy, reg, repo, "provenance", att)
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Deleted)
		if err != nil || len(report.Lost) > 0 {
			return // reported, not silent
		}
		got := resolvesTo(t, reg, repo, "provenance")
		subject, _ := reg.ManifestExists(repo, x.Digest)
		if got != att.String() || !subject {
			t.Fatalf("apply succeeded, nothing lost; provenance resolves to %s (want %s), its subject %s exists: %v", got, att, x.Digest, subject)
		}
	})
}

// TestReview51DanglingRepairLeavesTheSignatureDeleted (reported): the
// same race on a signed image: pr-1's image X, signed (cosign signature S
// tagged sha256-<X>.sig), planned with delete_referrers; a new tag "rel"
// pushed onto X lands as the registry handles X's DELETE (dangling), and
// the item deletes S after X. repairDangling puts back X, "rel" resolves
// to it: "restored X with tag rel". S is not put back, nor its tag: the
// repair restores the tagged manifest alone (restoreNeeded's "the
// referrers of what comes back come back too" is not run: view.keep is
// untouched), and no later verification brings S back (without its tag,
// nothing in the view links S to X). The apply succeeds; the kept image
// X is unsigned. The Safety guide: "never a kept image without its
// signature".
func TestReview51DanglingRepairLeavesTheSignatureDeleted(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review51/dangling-signed"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		sigTag := fallbackTag48(x.Digest) + ".sig"
		sig, err := reg.PushImage(repo, created, sigTag)
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
		pushDuringDelete(t, proxy, reg, repo, "rel", x.Digest)
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Deleted)
		if err != nil || len(report.Lost) > 0 {
			return // reported, not silent
		}
		if got := resolvesTo(t, reg, repo, "rel"); got != x.Digest.String() {
			t.Fatalf("rel resolves to %s; want X %s repaired (review 50's new-name case)", got, x.Digest)
		}
		if got := resolvesTo(t, reg, repo, sigTag); got != sig.Digest.String() {
			t.Fatalf("apply succeeded; rel is back on X, but its signature tag %s resolves to %s (want %s)", sigTag, got, sig.Digest)
		}
	})
}
