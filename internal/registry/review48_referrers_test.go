package registry

// Regression test of review 48 (fixed): with delete_referrers, the
// signature of the SBOM of a deleted image (oras attach on a registry
// without the referrers API: an OCI fallback index "sha256-<image>"
// listing the SBOM, and "sha256-<sbom>" listing the signature) was left by
// the apply and planned only by the next plan: referrers followed their
// subject one level deep. Built here without oras, with the repository's
// own helpers, on distribution v3 and 2.8; a cosign-style signature of
// the signature ("sha256-<sig>.sig") makes a third level.
//   - TestReview48ReferrersOfReferrersFollowTheImage: the policy plans and
//     deletes every level in one apply; the next plan is empty.
//   - TestReview48ExplicitDeletionsTakeReferrersOfReferrers: so do
//     registry_manifest_deletion and registry_tag_deletion
//     (delete_untagged_manifests).
//   - TestReview48KeptSignatureKeepsItsSubjectChain: a signature of the
//     SBOM kept by a tag keeps the SBOM and the image (its body names the
//     SBOM, whose body names the image): only the image's tag goes.

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// signedSBOM48 is an image with an SBOM attached, the SBOM signed and the
// signature signed, as oras and cosign leave them on a registry without
// the referrers API.
type signedSBOM48 struct {
	image, fbImage, sbom, fbSBOM, sig, sigOfSig v1.Hash
}

func (s signedSBOM48) all() []v1.Hash {
	return []v1.Hash{s.image, s.fbImage, s.sbom, s.fbSBOM, s.sig, s.sigOfSig}
}

func (s signedSBOM48) referrers() []string {
	var out []string
	for _, d := range []v1.Hash{s.fbImage, s.sbom, s.fbSBOM, s.sig, s.sigOfSig} {
		out = append(out, d.String())
	}
	return out
}

// fallbackTag48 is the referrers tag schema's tag of subject.
func fallbackTag48(subject v1.Hash) string { return strings.Replace(subject.String(), ":", "-", 1) }

// pushSignedSBOM48 pushes an image tagged tag, its SBOM and the OCI
// fallback index sha256-<image> listing it, a signature of the SBOM and
// the fallback index sha256-<sbom> listing it, and a cosign signature of
// that signature (tagged sha256-<sig>.sig).
func pushSignedSBOM48(t *testing.T, reg *testregistry.Registry, repo, tag string, created time.Time) signedSBOM48 {
	t.Helper()
	img, err := reg.PushImage(repo, created, tag)
	if err != nil {
		t.Fatal(err)
	}
	s := signedSBOM48{image: img.Digest}
	if s.sbom, err = reg.PushUntaggedReferrer(repo, s.image, "sbom"); err != nil {
		t.Fatal(err)
	}
	if s.fbImage, err = reg.PushIndexOf(repo, []v1.Hash{s.sbom}, fallbackTag48(s.image)); err != nil {
		t.Fatal(err)
	}
	if s.sig, err = reg.PushUntaggedReferrer(repo, s.sbom, "sig"); err != nil {
		t.Fatal(err)
	}
	if s.fbSBOM, err = reg.PushIndexOf(repo, []v1.Hash{s.sig}, fallbackTag48(s.sbom)); err != nil {
		t.Fatal(err)
	}
	if s.sigOfSig, err = reg.PushReferrer(repo, s.sig, "sig"); err != nil {
		t.Fatal(err)
	}
	return s
}

// levels are the referrers level by level: what refers to the image (its
// fallback index, the SBOM), to the SBOM (its fallback index, the
// signature), and to the signature.
func (s signedSBOM48) levels() [][]v1.Hash {
	return [][]v1.Hash{{s.fbImage, s.sbom}, {s.fbSBOM, s.sig}, {s.sigOfSig}}
}

// inLevels48 reports whether got lists the levels in order (subjects
// before their referrers), each in any order.
func inLevels48(got []string, levels [][]v1.Hash) bool {
	for _, level := range levels {
		var want []string
		for _, d := range level {
			want = append(want, d.String())
		}
		if len(got) < len(want) || !sameDigests48(got[:len(want)], want) {
			return false
		}
		got = got[len(want):]
	}
	return len(got) == 0
}

// sameDigests48 compares digests as sets.
func sameDigests48(got, want []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want)))
}

func TestReview48ReferrersOfReferrersFollowTheImage(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review48/referrers"
		kept := pushSignedSBOM48(t, reg, repo, "keep", time.Now().Add(-time.Hour))
		old := pushSignedSBOM48(t, reg, repo, "old", time.Now().Add(-2*time.Hour))
		c := newClient(t, Config{URL: reg.URL})
		policy := retention.Policy{Keep: []retention.KeepRule{{Tags: []string{"keep"}}}, Delete: []retention.DeleteRule{{}}, DeleteReferrers: true}
		plan := decideRepository(t, c, repo, policy)
		if len(plan.Decisions) != 1 || plan.Decisions[0].Digest != old.image.String() {
			t.Fatalf("decisions %+v; want one, deleting old's image", plan.Decisions)
		}
		d := plan.Decisions[0]
		if !sameDigests48(d.Referrers, old.referrers()) {
			t.Errorf("planned referrers %v; want every level: %v", d.Referrers, old.referrers())
		}
		wantTags := []string{"old", fallbackTag48(old.image), fallbackTag48(old.sbom), fallbackTag48(old.sig) + ".sig"}
		if !sameDigests48(d.Tags, wantTags) {
			t.Errorf("planned tags %v; want %v", d.Tags, wantTags)
		}
		b := batchOf(repo, plan.Decisions)
		b.Policy, b.Now = &policy, time.Now()
		report, err := c.ExecuteBatches(context.Background(), []Batch{b})
		if err != nil || len(report.Lost) > 0 {
			t.Fatalf("apply: %v lost %q", err, report.Lost)
		}
		if report.Deleted != 1 {
			t.Errorf("report %+v; want the one planned deletion", report)
		}
		mustExist(t, reg, repo, false, old.all()...)
		mustExist(t, reg, repo, true, kept.all()...)
		for _, d := range decideRepository(t, c, repo, policy).Decisions {
			t.Errorf("the next plan is not empty: %s %s %v (%s)", d.Action, d.Digest, d.Tags, d.Reason)
		}
	})
}

func TestReview48ExplicitDeletionsTakeReferrersOfReferrers(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review48/explicit"
		ctx := context.Background()
		c := newClient(t, Config{URL: reg.URL})
		kept := pushSignedSBOM48(t, reg, repo, "keep", time.Time{})

		byManifest := pushSignedSBOM48(t, reg, repo, "by-manifest", time.Time{})
		m, err := c.PlanManifestDeletion(ctx, repo, "by-manifest", true)
		if err != nil {
			t.Fatal(err)
		}
		if !inLevels48(m.Referrers, byManifest.levels()) { // subjects before their referrers
			t.Errorf("registry_manifest_deletion plans referrers %v; want, level by level, %v", m.Referrers, byManifest.levels())
		}
		if _, err := c.ExecuteManifestDeletion(ctx, m); err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, false, byManifest.all()...)

		byTag := pushSignedSBOM48(t, reg, repo, "by-tag", time.Time{})
		p, err := c.PlanTagDeletion(ctx, repo, []string{"by-tag"}, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Untagged) == 0 || p.Untagged[0] != byTag.image.String() || !inLevels48(p.Untagged[1:], byTag.levels()) {
			t.Errorf("registry_tag_deletion plans %v; want the image, then level by level %v", p.Untagged, byTag.levels())
		}
		if _, err := c.ExecuteTagDeletion(ctx, p); err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, false, byTag.all()...)
		mustExist(t, reg, repo, true, kept.all()...)
	})
}

func TestReview48KeptSignatureKeepsItsSubjectChain(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review48/kept-signature"
		old := pushSignedSBOM48(t, reg, repo, "old", time.Now().Add(-2*time.Hour))
		if err := reg.Tag(repo, old.sig, "signature"); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, Config{URL: reg.URL})
		policy := retention.Policy{Keep: []retention.KeepRule{{Tags: []string{"signature"}}}, Delete: []retention.DeleteRule{{}}, DeleteReferrers: true}
		plan := decideRepository(t, c, repo, policy)
		for _, d := range plan.Decisions {
			t.Logf("plan: %s %s %v refs=%v (%s)", d.Action, d.Digest, d.Tags, d.Referrers, d.Reason)
		}
		if len(plan.Decisions) != 1 || plan.Decisions[0].Action != retention.Untag || !slices.Equal(plan.Decisions[0].Tags, []string{"old"}) {
			t.Fatalf("decisions %+v; want old untagged only (the kept signature names the SBOM, which names the image)", plan.Decisions)
		}
		b := batchOf(repo, plan.Decisions)
		b.Policy, b.Now = &policy, time.Now()
		if report, err := c.ExecuteBatches(context.Background(), []Batch{b}); err != nil || len(report.Lost) > 0 {
			t.Fatalf("apply: %v lost %q", err, report.Lost)
		}
		mustExist(t, reg, repo, true, old.all()...)
		for _, d := range decideRepository(t, c, repo, policy).Decisions {
			t.Errorf("the next plan is not empty: %s %s %v (%s)", d.Action, d.Digest, d.Tags, d.Reason)
		}
	})
}
