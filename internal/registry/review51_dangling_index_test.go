package registry

// Review 51: repairDangling (repair.go) against an index.
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
	"os"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// reported51 skips a test reproducing a reported defect, unless
// REVIEW51_UNSKIP is set (to watch it fail, or pass once fixed).
func reported51(t *testing.T, defect string) {
	t.Helper()
	if os.Getenv("REVIEW51_UNSKIP") == "" {
		t.Skip("reported: " + defect)
	}
}

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
			reported51(t, "a new tag pushed onto a planned index as the registry deletes it (dangling) is not repaired: repairDangling PUTs the index before its children, the registry refuses it, the refusal is ignored, the apply succeeds and the kept tag resolves to nothing")
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
			reported51(t, "a new tag pushed onto a planned attestation as the registry deletes it is repaired without the image it attests: repairDangling restores only the tagged manifest (not what it keeps, view.keep untouched), the apply succeeds and the attested image stays deleted")
			t.Fatalf("apply succeeded, nothing lost; provenance resolves to %s (want %s), its subject %s exists: %v", got, att, x.Digest, subject)
		}
	})
}
