package registry

// Review 50: referrers to any depth (51b2427), at apply time.
//
// TestReview50SignatureOfAKeptSignatureIsDeleted (reported): a plan with
// delete_referrers deletes image A (pr-1) with its cosign signature S
// (tag sha256-<A>.sig; a classic cosign signature names no subject in its
// body) and, since the any-depth fix, S's own signature S2 (tag
// sha256-<S>.sig). After the plan someone tags S ("sig-archive": kept,
// no rule matches it). The policy evaluated at apply time keeps S and so
// S2 (S2's tag follows a subject that now stays), and the apply does skip
// S's DELETE (kept[S]). But the apply's kept set (judge/keptAlive:
// Snapshot.referenced over removedBy) counts sha256-<S>.sig as removed by
// A's work (work.takes: a referrer tag goes with a referrer the work
// deletes, whether or not that referrer's own subject still goes), so S2
// is not kept and runChunk deletes it: the kept signature S loses its own
// signature, on the policy and on registry_manifest_deletion alike, and
// the apply reports success. (At depth one the same case is caught: a tag
// pushed onto the work's own digest contradicts the whole work.) The
// policy's allowance (allowance.permits) checks only the work's own
// digest, so "the plan and the policy at apply time" is not what decides
// a referrer step.
//
// Held (each cheap, below):
//   - a signature S shared by two subjects (tagged sha256-<A>.sig and
//     sha256-<B>.sig), A deleted and B kept: the plan keeps S (the staying
//     referrer tag of B keeps what it points at) - TestReview50SharedSignatureStays;
//   - a referrer of A that is also an index child of a kept index: Survivors
//     keeps it - TestReview50ReferrerListedByAKeptIndexStays;
//   - a referrer cycle (S's signature tag pointing back at A): followReferrers'
//     owner map ends it; A and S go, the next plan is empty - TestReview50ReferrerCycleEnds.

import (
	"context"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// sigChain50 is image A (tag pr-1), its cosign signature S (sha256-<A>.sig,
// no subject in its body) and S's signature S2 (sha256-<S>.sig).
type sigChain50 struct{ a, s, s2 v1.Hash }

func pushSigChain50(t *testing.T, reg *testregistry.Registry, repo string) sigChain50 {
	t.Helper()
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	a, err := reg.PushImage(repo, created, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := reg.PushImage(repo, created, fallbackTag48(a.Digest)+".sig")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := reg.PushImage(repo, created, fallbackTag48(s.Digest)+".sig")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage(repo, created, "stable"); err != nil {
		t.Fatal(err)
	}
	return sigChain50{a: a.Digest, s: s.Digest, s2: s2.Digest}
}

// Regression test of review 50 (fixed).
func TestReview50SignatureOfAKeptSignatureIsDeleted(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		for _, path := range []string{"policy", "manifest-deletion"} {
			t.Run(path, func(t *testing.T) {
				repo := "review50/sig-of-sig-" + path
				ch := pushSigChain50(t, reg, repo)
				c := newClient(t, Config{URL: reg.URL})
				ctx := context.Background()
				var apply func() error
				var planned []string
				if path == "policy" {
					b := planBatch(t, c, repo, deletePR())
					if len(b.Manifests) != 1 || b.Manifests[0].Digest != ch.a.String() {
						t.Fatalf("planned %+v; want A", b.Manifests)
					}
					planned = b.Manifests[0].Referrers
					apply = func() error {
						report, err := c.ExecuteBatches(ctx, []Batch{b})
						t.Logf("restored %q lost %q skipped %q warnings %q deleted %d", report.Restored, report.Lost, report.Skipped, report.Warnings, report.Deleted)
						return err
					}
				} else {
					m, err := c.PlanManifestDeletion(ctx, repo, "pr-1", true)
					if err != nil {
						t.Fatal(err)
					}
					planned = m.Referrers
					apply = func() error { _, err := c.ExecuteManifestDeletion(ctx, m); return err }
				}
				if !slices.Contains(planned, ch.s2.String()) || !slices.Contains(planned, ch.s.String()) {
					t.Fatalf("planned referrers %v; want S and S2 (any depth)", planned)
				}
				if err := reg.Tag(repo, ch.s, "sig-archive"); err != nil { // after the plan: kept
					t.Fatal(err)
				}
				err := apply()
				t.Logf("apply: %v", err)
				mustExist(t, reg, repo, true, ch.s) // held: S is kept
				if found, _ := reg.ManifestExists(repo, ch.s2); !found && err == nil {
					t.Errorf("S2, the signature of S (kept by sig-archive, tagged after the plan), was deleted and the apply succeeded")
				}
				if got := resolvesTo(t, reg, repo, fallbackTag48(ch.s)+".sig"); got != ch.s2.String() {
					t.Errorf("%s.sig resolves to %s; want S2 %s", fallbackTag48(ch.s), got, ch.s2)
				}
				// The policy at apply time keeps S2: the plan is an upper bound.
				if path == "policy" {
					for _, d := range decideRepository(t, c, repo, deletePR()).Decisions {
						t.Logf("next plan: %s %s %v refs %v", d.Action, d.Digest, d.Tags, d.Referrers)
					}
				}
			})
		}
	})
}

// A signature shared by a deleted and a kept subject stays with the kept one.
func TestReview50SharedSignatureStays(t *testing.T) {
	reg := testregistry.Start(t)
	const repo = "review50/shared-sig"
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	a, _ := reg.PushImage(repo, created, "pr-1")
	b, _ := reg.PushImage(repo, created, "stable")
	s, err := reg.PushImage(repo, created, fallbackTag48(a.Digest)+".sig", fallbackTag48(b.Digest)+".sig")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	batch := planBatch(t, c, repo, deletePR())
	for _, m := range batch.Manifests {
		if slices.Contains(m.Referrers, s.Digest.String()) {
			t.Errorf("plan deletes %s, the signature the kept stable shares", s.Digest)
		}
	}
	if _, err := c.ExecuteBatches(context.Background(), []Batch{batch}); err != nil {
		t.Fatal(err)
	}
	mustExist(t, reg, repo, true, s.Digest, b.Digest)
	mustExist(t, reg, repo, false, a.Digest)
}

// A referrer of a deleted image that a kept index lists stays.
func TestReview50ReferrerListedByAKeptIndexStays(t *testing.T) {
	reg := testregistry.Start(t)
	const repo = "review50/referrer-child"
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	a, _ := reg.PushImage(repo, created, "pr-1")
	s, err := reg.PushImage(repo, created, fallbackTag48(a.Digest)+".sig")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushIndexOf(repo, []v1.Hash{s.Digest}, "bundle"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	policy := retention.Policy{Delete: []retention.DeleteRule{{}}, Keep: []retention.KeepRule{{Tags: []string{"bundle"}}}, DeleteReferrers: true}
	batch := planBatch(t, c, repo, policy)
	if len(batch.Manifests) != 1 || batch.Manifests[0].Digest != a.Digest.String() {
		t.Fatalf("planned %+v; want A", batch.Manifests)
	}
	if slices.Contains(batch.Manifests[0].Referrers, s.Digest.String()) {
		t.Errorf("plan deletes %s, which the kept index bundle lists", s.Digest)
	}
	if _, err := c.ExecuteBatches(context.Background(), []Batch{batch}); err != nil {
		t.Fatal(err)
	}
	mustExist(t, reg, repo, true, s.Digest)
	mustExist(t, reg, repo, false, a.Digest)
}

// A referrer cycle (the signature's own signature tag points back at the
// image) ends: the image and its signature go, and the next plan is empty.
func TestReview50ReferrerCycleEnds(t *testing.T) {
	reg := testregistry.Start(t)
	const repo = "review50/referrer-cycle"
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	a, _ := reg.PushImage(repo, created, "pr-1")
	s, err := reg.PushImage(repo, created, fallbackTag48(a.Digest)+".sig")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Tag(repo, a.Digest, fallbackTag48(s.Digest)+".sig"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage(repo, created, "stable"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	batch := planBatch(t, c, repo, deletePR())
	for _, m := range batch.Manifests {
		t.Logf("planned %s tags %v refs %v", m.Digest, m.Tags, m.Referrers)
	}
	if report, err := c.ExecuteBatches(context.Background(), []Batch{batch}); err != nil || len(report.Lost) > 0 {
		t.Fatalf("apply: %v lost %q", err, report.Lost)
	}
	mustExist(t, reg, repo, false, a.Digest, s.Digest)
	for _, d := range decideRepository(t, c, repo, deletePR()).Decisions {
		t.Errorf("the next plan is not empty: %s %s %v", d.Action, d.Digest, d.Tags)
	}
}
