package registry

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 36: races between Terraform's planning pass (whose read the apply
// reuses, view.go) and the apply, each on distribution v3 and 2.8. The
// batches carry their policy, as the provider's do, so that the apply
// evaluates it again.

// planBatch plans policy over repo with c and returns the batch the
// provider would hand the apply, policy included.
func planBatch(t *testing.T, c *Client, repo string, policy retention.Policy) Batch {
	t.Helper()
	b := batchOf(repo, decideRepository(t, c, repo, policy).Decisions)
	b.Policy, b.Now = &policy, time.Now()
	return b
}

// reported skips a test reproducing a reported defect, unless
// REVIEW36_UNSKIP is set (to watch it fail, or pass once fixed).
func reported(t *testing.T, defect string) {
	t.Helper()
	if os.Getenv("REVIEW36_UNSKIP") == "" {
		t.Skip("reported: " + defect)
	}
}

func deletePR() retention.Policy {
	return retention.Policy{Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^pr-")}}, DeleteReferrers: true}
}

// tagIs fails unless tag resolves to want in repo.
func tagIs(t *testing.T, reg *testregistry.Registry, repo, tag string, want v1.Hash) {
	t.Helper()
	if got := resolvesTo(t, reg, repo, tag); got != want.String() {
		t.Errorf("%s:%s resolves to %s; want %s", repo, tag, got, want)
	}
}

// A planned tag moved, after the planning pass, onto another digest the
// same chunk deletes. Decided (review 36): a deletion may take along a tag
// the plan removes, wherever it points now. pr-1 and Y were both reviewed
// for removal, so deleting Y with pr-1 on it loses nothing kept. A fresh
// read sees pr-1 on Y, Y's deletion now taking a tag the plan removes only
// from X, and keeps Y (and X, untagged now, not the policy's to delete);
// the planning pass's read does not resolve pr-1 again and deletes both.
// Either way stable stays and the report counts what is gone.
func TestReview36PlannedTagMovedOntoAnotherPlannedDigest(t *testing.T) {
	for _, reused := range []bool{false, true} {
		name := map[bool]string{false: "fresh-view", true: "planning-pass-view"}[reused]
		t.Run(name, func(t *testing.T) {
			onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
				const repo = "review36/moved-onto-planned"
				created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
				x, err := reg.PushImage(repo, created, "pr-1")
				if err != nil {
					t.Fatal(err)
				}
				y, err := reg.PushImage(repo, created.Add(time.Hour), "pr-2")
				if err != nil {
					t.Fatal(err)
				}
				stable, err := reg.PushImage(repo, created.Add(2*time.Hour), "stable")
				if err != nil {
					t.Fatal(err)
				}
				c := newClient(t, Config{URL: reg.URL})
				batch := planBatch(t, c, repo, deletePR())
				if len(batch.Manifests) != 2 {
					t.Fatalf("planned %+v; want X and Y", batch.Manifests)
				}
				if err := reg.Tag(repo, y.Digest, "pr-1"); err != nil { // after the planning pass
					t.Fatal(err)
				}
				if !reused {
					c = newClient(t, Config{URL: reg.URL})
				}
				report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
				if err != nil {
					t.Fatal(err)
				}
				tagIs(t, reg, repo, "stable", stable.Digest)
				deletedAsReported(t, reg, repo, report, x.Digest, y.Digest)
				if !reused {
					tagIs(t, reg, repo, "pr-1", y.Digest)
				}
			})
		})
	}
}

// deletedAsReported fails unless report.Deleted counts the digests gone
// among planned, and nothing is reported lost.
func deletedAsReported(t *testing.T, reg *testregistry.Registry, repo string, report Report, planned ...v1.Hash) {
	t.Helper()
	gone := 0
	for _, d := range planned {
		found, err := reg.ManifestExists(repo, d)
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			gone++
		}
	}
	if report.Deleted != gone || len(report.Lost) != 0 {
		t.Errorf("report %+v; want %d deleted (gone from the registry), nothing lost", report, gone)
	}
}

// The same, with the tag moved onto a child of a planned index: the child
// goes with its index, pr-1 with it (both reviewed for removal). A fresh
// read keeps the child a tag points at now
// (TestApplyKeepsAChildAPlannedTagMovedOnto).
func TestReview36PlannedTagMovedOntoAPlannedChild(t *testing.T) {
	for _, reused := range []bool{false, true} {
		name := map[bool]string{false: "fresh-view", true: "planning-pass-view"}[reused]
		t.Run(name, func(t *testing.T) {
			onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
				const repo = "review36/moved-onto-child"
				created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
				old, err := reg.PushImage(repo, created, "pr-1")
				if err != nil {
					t.Fatal(err)
				}
				stable, err := reg.PushImage(repo, created, "stable")
				if err != nil {
					t.Fatal(err)
				}
				platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
				index, children, err := reg.PushIndex(repo, platforms, created, "pr-2")
				if err != nil {
					t.Fatal(err)
				}
				c := newClient(t, Config{URL: reg.URL})
				batch := planBatch(t, c, repo, deletePR())
				if err := reg.Tag(repo, children[0], "pr-1"); err != nil {
					t.Fatal(err)
				}
				if !reused {
					c = newClient(t, Config{URL: reg.URL})
				}
				report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
				if err != nil {
					t.Fatal(err)
				}
				tagIs(t, reg, repo, "stable", stable.Digest)
				deletedAsReported(t, reg, repo, report, old.Digest, index)
				if !reused {
					mustExist(t, reg, repo, true, children[0])
					tagIs(t, reg, repo, "pr-1", children[0])
				}
			})
		})
	}
}

// A planned tag moved onto a kept image after the planning pass: X, left
// untagged, is put back after its DELETE (undoMovedAway) and reported
// skipped, not deleted; pr-1 stays on stable's image.
func TestReview36PlannedTagMovedOntoAKeptDigest(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review36/moved-onto-kept"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		y, err := reg.PushImage(repo, created, "pr-2")
		if err != nil {
			t.Fatal(err)
		}
		stable, err := reg.PushImage(repo, created.Add(time.Hour), "stable")
		if err != nil {
			t.Fatal(err)
		}
		c := newClient(t, Config{URL: reg.URL})
		batch := planBatch(t, c, repo, deletePR())
		if err := reg.Tag(repo, stable.Digest, "pr-1"); err != nil {
			t.Fatal(err)
		}
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, true, x.Digest, stable.Digest)
		mustExist(t, reg, repo, false, y.Digest)
		tagIs(t, reg, repo, "pr-1", stable.Digest)
		tagIs(t, reg, repo, "stable", stable.Digest)
		skippedLike(t, report, `kept `+x.Digest.String()+`: since the plan, pr-1 to `+stable.Digest.String())
		if report.Deleted != 1 {
			t.Errorf("report %+v; want 1 deleted (Y)", report)
		}
	})
}

// An image with two planned tags, one pushed onto a new image after the
// planning pass: the other still goes with X (the policy deletes it), and
// the moved one stays where it was pushed.
func TestReview36OneOfTwoPlannedTagsMovedAway(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review36/one-of-two"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1", "pr-1-latest")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created.Add(time.Hour), "stable"); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, Config{URL: reg.URL})
		batch := planBatch(t, c, repo, deletePR())
		rebuilt, err := reg.PushImage(repo, created.Add(2*time.Hour), "pr-1-latest")
		if err != nil {
			t.Fatal(err)
		}
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, false, x.Digest)
		mustExist(t, reg, repo, true, rebuilt.Digest)
		tagIs(t, reg, repo, "pr-1-latest", rebuilt.Digest)
		if report.Deleted != 1 || len(report.Restored) != 0 {
			t.Errorf("report %+v; want X deleted, nothing restored", report)
		}
	})
}

// keep { newest = 2 } over pr- tags: the plan deletes pr-1 and pr-2. After
// the planning pass someone deletes pr-4's image: pr-2 is then among the
// two newest, kept by the policy at apply time, and pr-1 is still deleted
// (as an apply on a fresh read does). On the planning pass's read, the
// first last check resolves the kept tags again (resolveInto), which
// dropped their created times: pr-3 ranked last as of unknown age, the
// policy evaluated again kept pr-1 and pr-2. Tags resolved again keep the
// description the read had of their digest.
func TestReview36RankShiftAfterThePlanningPass(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review36/rank"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		var images [5]v1.Hash
		for i := 1; i <= 4; i++ {
			img, err := reg.PushImage(repo, created.Add(time.Duration(i)*time.Hour), "pr-"+string(rune('0'+i)))
			if err != nil {
				t.Fatal(err)
			}
			images[i] = img.Digest
		}
		policy := retention.Policy{
			Keep:   []retention.KeepRule{{TagRegex: regexp.MustCompile("^pr-"), Newest: 2}},
			Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^pr-")}},
		}
		c := newClient(t, Config{URL: reg.URL})
		batch := planBatch(t, c, repo, policy)
		if len(batch.Manifests) != 2 {
			t.Fatalf("planned %+v; want pr-1 and pr-2", batch.Manifests)
		}
		if err := reg.DeleteManifest(repo, images[4]); err != nil {
			t.Fatal(err)
		}
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, true, images[2], images[3])
		mustExist(t, reg, repo, false, images[1])
		tagIs(t, reg, repo, "pr-2", images[2])
		if report.Deleted != 1 {
			t.Errorf("report %+v; want pr-1 alone deleted", report)
		}
	})
}

// After the planning pass: a release index (new tag) over a planned image,
// an attestation tagged "provenance" naming another as its subject, and a
// deployed untagged index (pinned by digest) over a third. The apply on the
// planning pass's read keeps all three and deletes the fourth.
func TestReview36NewUsersOfPlannedDigestsAfterThePlanningPass(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review36/new-users"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		var images [4]v1.Hash
		for i := range images {
			img, err := reg.PushImage(repo, created, "pr-"+string(rune('0'+i)))
			if err != nil {
				t.Fatal(err)
			}
			images[i] = img.Digest
		}
		// The deployed index's digest is known before the registry holds it.
		deployed, err := reg.PushIndexOf(repo, []v1.Hash{images[2]})
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.DeleteManifest(repo, deployed); err != nil {
			t.Fatal(err)
		}
		policy := deletePR()
		policy.Images = []retention.Image{{Reference: "reg.example.com/" + repo + "@" + deployed.String(), Repository: repo, Digest: deployed.String()}}
		c := newClient(t, Config{URL: reg.URL})
		batch := planBatch(t, c, repo, policy)
		if len(batch.Manifests) != 4 {
			t.Fatalf("planned %+v; want 4 deletions", batch.Manifests)
		}
		release, err := reg.PushIndexOf(repo, []v1.Hash{images[0]}, "release")
		if err != nil {
			t.Fatal(err)
		}
		attestation, err := reg.PushUntaggedReferrer(repo, images[1], "att")
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Tag(repo, attestation, "provenance"); err != nil {
			t.Fatal(err)
		}
		if again, err := reg.PushIndexOf(repo, []v1.Hash{images[2]}); err != nil || again != deployed {
			t.Fatalf("deployed index pushed as %s (%v); want %s", again, err, deployed)
		}
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, true, images[0], images[1], images[2], release, attestation, deployed)
		mustExist(t, reg, repo, false, images[3])
		if report.Deleted != 1 || len(report.Restored) != 0 { // skipped before their DELETEs, not put back after
			t.Errorf("report %+v; want 1 deleted, nothing restored", report)
		}
	})
}

// A signature (tagged sha256-<digest>.sig) and an untagged attestation
// pushed onto a planned image after the planning pass: the plan did not
// list them, so the apply deletes the image and leaves them (the plan is
// an upper bound); what the registry shows matches the report.
func TestReview36ReferrersPushedOntoAPlannedDigest(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review36/referrers"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		stable, err := reg.PushImage(repo, created, "stable")
		if err != nil {
			t.Fatal(err)
		}
		c := newClient(t, Config{URL: reg.URL})
		batch := planBatch(t, c, repo, deletePR())
		sig, err := reg.PushReferrer(repo, x.Digest, "sig")
		if err != nil {
			t.Fatal(err)
		}
		att, err := reg.PushUntaggedReferrer(repo, x.Digest, "att")
		if err != nil {
			t.Fatal(err)
		}
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, true, stable.Digest, sig, att)
		mustExist(t, reg, repo, false, x.Digest)
		if report.Deleted != 1 || len(report.Restored) != 0 || len(report.Lost) != 0 {
			t.Errorf("report %+v; want X deleted alone", report)
		}
	})
}

// keep { newest = 1 } by created over pr- tags, named against their age:
// pr-a (oldest) and pr-z are planned, pr-m (newest) kept. After the plan
// someone deletes pr-m's image, as the apply reads its view: the policy
// at apply time keeps pr-z, the newest left, and deletes pr-a. The apply
// (a fresh read, with created times) resolves the few tags that stay again
// before its DELETEs (fewStaying), which dropped their created times: the
// policy evaluated again (a tag went) ranked pr-a and pr-z by name, kept
// pr-a and deleted pr-z, a tag the policy keeps.
func TestReview36RankShiftOnAFreshReadDeletesTheNewKeeper(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review36/rank-fresh"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		a, err := reg.PushImage(repo, created, "pr-a")
		if err != nil {
			t.Fatal(err)
		}
		z, err := reg.PushImage(repo, created.Add(time.Hour), "pr-z")
		if err != nil {
			t.Fatal(err)
		}
		m, err := reg.PushImage(repo, created.Add(2*time.Hour), "pr-m")
		if err != nil {
			t.Fatal(err)
		}
		policy := retention.Policy{
			Keep:   []retention.KeepRule{{TagRegex: regexp.MustCompile("^pr-"), Newest: 1}},
			Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^pr-")}},
		}
		batch := planBatch(t, newClient(t, Config{URL: reg.URL}), repo, policy)
		if len(batch.Manifests) != 2 {
			t.Fatalf("planned %+v; want pr-a and pr-z", batch.Manifests)
		}
		// pr-m's image is deleted as the apply reads its view: right
		// before the last check's tag listing (the second one).
		proxy := newFaultProxy(t, reg.URL)
		var lists atomic.Int64
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "/tags/list") && lists.Add(1) == 2 {
				if err := reg.DeleteManifest(repo, m.Digest); err != nil {
					t.Error(err)
				}
			}
			return false
		})
		report, err := newClient(t, Config{URL: proxy.URL}).ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, true, z.Digest)
		mustExist(t, reg, repo, false, a.Digest)
		tagIs(t, reg, repo, "pr-z", z.Digest)
		t.Logf("report %+v", report)
	})
}

// keep { newer_than = 24h } and delete {}: the plan deletes the images of
// 2020. A new image is pushed as the apply reads its view (before the
// last check's listing): the last check resolves it, and the few tags
// that stay (fewStaying) again; without their created times, the policy
// evaluated again because a tag appeared saw every tag of unknown age,
// which newer_than keeps, and deleted nothing. A digest the read had not
// described (build-4's) is described when the policy needs ages.
func TestReview36PushDuringTheApplyKeepsEveryOldImage(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review36/newer-than"
		old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		var planned []v1.Hash
		for _, tag := range []string{"build-1", "build-2"} {
			img, err := reg.PushImage(repo, old, tag)
			if err != nil {
				t.Fatal(err)
			}
			planned = append(planned, img.Digest)
		}
		if _, err := reg.PushImage(repo, time.Now(), "build-3"); err != nil {
			t.Fatal(err)
		}
		policy := retention.Policy{
			Keep:   []retention.KeepRule{{NewerThan: 24 * time.Hour}},
			Delete: []retention.DeleteRule{{}},
		}
		batch := planBatch(t, newClient(t, Config{URL: reg.URL}), repo, policy)
		if len(batch.Manifests) != 2 {
			t.Fatalf("planned %+v; want the two images of 2020", batch.Manifests)
		}
		proxy := newFaultProxy(t, reg.URL)
		var lists atomic.Int64
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "/tags/list") && lists.Add(1) == 2 {
				if _, err := reg.PushImage(repo, time.Now(), "build-4"); err != nil {
					t.Error(err)
				}
			}
			return false
		})
		report, err := newClient(t, Config{URL: proxy.URL}).ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, false, planned...)
		if report.Deleted != 2 {
			t.Errorf("report %+v; want both images of 2020 deleted", report)
		}
	})
}
