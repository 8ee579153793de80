package registry

// Review 48: real clients (oras v1.3.6, regctl v0.11.1) on distribution v3
// and 2.8, and Gitea 1.26 (review48_gitea_test.go, build tag
// review48gitea, run against a live Gitea; see that file).
//
// Defects (tests below; the Gitea ones fixed, with regression tests that
// play Gitea with a proxy in case_insensitive_test.go and
// freed_at_once_test.go, and checked live):
//   - Gitea: keep { images } with a tag reference written in another case
//     than Gitea lists it (pushed and pulled as app:Latest, listed as
//     latest; Gitea resolves tags case-insensitively) keeps nothing: the
//     plan deletes the deployed image, no warning.
//     (TestReview48GiteaDeployedTagInOtherCaseDeleted)
//   - Gitea: the freed-at-once warning is decided from the chunk's first
//     deleted image only; when its blobs are all still used by a kept
//     image (oras re-push of the same files, same build re-pushed with
//     another annotation), no warning, though the other deleted images'
//     blobs are gone. (TestReview48GiteaFreedAtOnceProbeMisfires)
//   - Gitea: a kept tag moved onto a planned image right before its DELETE
//     is gone, and the apply reports success: Gitea drops the image the
//     tag moved away from (no other tag held it), so restoreTag takes the
//     tag for someone else's deletion (warning "which this apply did not
//     delete: left as it is") and returns before restoreSuspects; the
//     guide promises "reported as lost (the apply fails naming it, never a
//     silent success)". (TestReview48GiteaMovedKeptTag)
//   - (fixed) v3 and 2.8, oras attach: a signature of an SBOM of a deleted
//     image (delete_referrers = true) is neither planned nor deleted: the
//     plan deletes the image, its fallback index and its SBOM, but not the
//     SBOM's own fallback index (sha256-<sbom>) and the signature it
//     lists; the next plan deletes them ("referrer of <sbom>, which no
//     longer exists"). The plan did not say all the apply should do, and
//     the next plan is not empty. (TestReview48SignedSBOMLeftForNextPlan,
//     which now runs whenever oras is found.) Fixed: referrers follow what
//     goes to any depth, for the policy and explicit deletions alike
//     (retention followReferrers); a kept referrer keeps its subjects
//     however deep. Regression tests without oras:
//     review48_referrers_test.go.
//
// Attacks that held:
//   - oras content on v3 and 2.8 (TestReview48OrasContent, passes): every
//     level of referrers of kept images (oras attach's fallback indexes
//     sha256-<subject>, SBOM of an image, signature of the SBOM, signature
//     of an artifact) stays served and pullable; custom artifactType and
//     config media type, empty-config artifacts sharing a layer with a
//     kept one, an artifact with no file, "oras manifest index create"
//     indexes with annotations (kept one keeps its children v1 and
//     art-keep; deleted one goes, its child's own item planned), tags
//     differing only in case ("Stable" deleted, "stable" kept): the plan
//     lists exactly what the apply deletes (5 items, 5 deleted, no
//     warning), nothing kept is touched.
//   - Gitea, oras attach (oras finds no referrers API there and writes
//     fallback tags): v1's SBOM and its signature stay served and
//     pullable after the apply (TestReview48GiteaOrasReferrers, logs only;
//     the deleted image's signed SBOM shows the same one-level defect).
//   - Gitea, read-only user (outsider): the plan reads, CheckDeletable and
//     CheckRestorable name the missing permission (401 after reads), the
//     apply deletes nothing and says why; a wrong password still says
//     "check username and password" (TestReview48GiteaReadOnlyUser).
//   - Gitea, explicit deletions naming "Latest" (listed "latest"): plan
//     nothing, delete nothing (TestReview48GiteaExplicitCase).
//   - Gitea, journal: stored (owner terraform-provider-registry exists),
//     no false warning on the idle applies above.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// tool48 finds a real client: $REVIEW48_<NAME> or /tmp/review48-bin/<name>.
func tool48(t *testing.T, name string) string {
	t.Helper()
	p := os.Getenv("REVIEW48_" + strings.ToUpper(name))
	if p == "" {
		p = "/tmp/review48-bin/" + name
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not found (%s): set REVIEW48_%s", name, p, strings.ToUpper(name))
	}
	return p
}

type oras48 struct {
	t   *testing.T
	bin string
	dir string
}

func newOras48(t *testing.T) oras48 {
	o := oras48{t: t, bin: tool48(t, "oras"), dir: t.TempDir()}
	return o
}

func (o oras48) file(name, content string) string {
	p := filepath.Join(o.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		o.t.Fatal(err)
	}
	return name
}

// run runs oras in o.dir, plain HTTP, and returns stdout.
func (o oras48) run(args ...string) string {
	o.t.Helper()
	args = append(args, "--plain-http")
	cmd := exec.Command(o.bin, args...)
	cmd.Dir = o.dir
	cmd.Env = append(os.Environ(), "HOME="+o.dir, "DOCKER_CONFIG="+o.dir)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		o.t.Fatalf("oras %s: %v\n%s\n%s", strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

// tryRun is run without failing the test.
func (o oras48) tryRun(args ...string) (string, error) {
	args = append(args, "--plain-http")
	cmd := exec.Command(o.bin, args...)
	cmd.Dir = o.dir
	cmd.Env = append(os.Environ(), "HOME="+o.dir, "DOCKER_CONFIG="+o.dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// digest pushes/attaches and returns the digest oras printed.
var orasDigest48 = regexp.MustCompile(`Digest: (sha256:[0-9a-f]{64})`)

func (o oras48) pushed(args ...string) string {
	o.t.Helper()
	out := o.run(args...)
	m := orasDigest48.FindStringSubmatch(out)
	if m == nil {
		o.t.Fatalf("no digest in oras output: %s", out)
	}
	return m[1]
}

// referrers lists every level of referrers of ref, as oras discovers them.
func (o oras48) referrers(ref string) []string {
	o.t.Helper()
	out := o.run("discover", "--format", "json", ref)
	var tree struct {
		Referrers []json.RawMessage `json:"referrers"`
	}
	if err := json.Unmarshal([]byte(out), &tree); err != nil {
		o.t.Fatalf("discover %s: %v: %s", ref, err, out)
	}
	var all []string
	var walk func(raw []json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var n struct {
				Digest    string            `json:"digest"`
				Referrers []json.RawMessage `json:"referrers"`
			}
			_ = json.Unmarshal(r, &n)
			all = append(all, n.Digest)
			walk(n.Referrers)
		}
	}
	walk(tree.Referrers)
	slices.Sort(all)
	return all
}

// TestReview48OrasContent: content only real clients make, on v3 and 2.8
// (neither serves the referrers API: oras attach writes the referrers
// tag schema's index, sha256-<subject>, moved on each attach):
//   - an image "v1" (kept) with an SBOM attached, the SBOM signed (oras
//     attach onto the SBOM's digest: a second fallback index), and a
//     signature of the image; the same for "old" (deleted);
//   - oras artifacts: custom artifactType and config media type ("art-keep",
//     kept), an empty-config artifact with the same file ("art-old",
//     deleted: same layer blob as art-keep), an artifact with no file;
//   - an index made by "oras manifest index create" with annotations,
//     over v1 and art-keep (kept as "multi"), and one over old ("multi-old");
//   - tags differing only in case ("Stable" deleted, "stable" kept).
//
// Policy: keep { tags = [v1, art-keep, multi, stable] }, delete {},
// delete_referrers. After the apply, oras must still serve everything kept
// and every level of referrers of what is kept; the next plan is empty;
// the report counts what the plan listed.
func TestReview48OrasContent(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		o := newOras48(t)
		h := reg.Host + "/app"
		ctx := context.Background()
		c := newClient(t, Config{URL: reg.URL, MaxConcurrency: 2})

		v1img, err := reg.PushImage("app", time.Now().Add(-time.Hour), "v1")
		if err != nil {
			t.Fatal(err)
		}
		oldimg, err := reg.PushImage("app", time.Now().Add(-2*time.Hour), "old")
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range []string{"v1", "old"} {
			sbom := o.pushed("attach", "--artifact-type", "application/spdx+json", h+":"+img, o.file("sbom-"+img+".json", `{"spdx":"`+img+`"}`))
			o.pushed("attach", "--artifact-type", "application/vnd.example.signature", h+"@"+sbom, o.file("sbom-sig-"+img+".txt", "sig of sbom "+img))
			o.pushed("attach", "--artifact-type", "application/vnd.example.signature", h+":"+img, o.file("sig-"+img+".txt", "sig "+img))
		}
		o.file("thing.bin", "payload")
		o.file("cfg.json", `{"kind":"thing"}`)
		artKeep := o.pushed("push", "--artifact-type", "application/vnd.example.thing", "--config", "cfg.json:application/vnd.example.thing.config.v1+json", h+":art-keep", "thing.bin:application/vnd.example.thing.layer")
		o.pushed("push", h+":art-old", "thing.bin")
		o.pushed("push", "--artifact-type", "application/vnd.example.empty", h+":art-nofile")
		o.pushed("attach", "--artifact-type", "application/vnd.example.signature", h+":art-keep", o.file("sig-art.txt", "sig art"))
		multi := o.pushed("manifest", "index", "create", h+":multi", "v1", "art-keep", "--annotation", "org.example.release=r1")
		o.pushed("manifest", "index", "create", h+":multi-old", "old", "--annotation", "org.example.release=r0")
		o.pushed("push", h+":Stable", o.file("s1.txt", "Stable"))
		o.pushed("push", h+":stable", o.file("s2.txt", "stable"))

		keepRefs := []string{h + ":v1", h + ":art-keep", h + ":multi", h + ":stable"}
		before := map[string][]string{}
		for _, ref := range keepRefs {
			before[ref] = o.referrers(ref)
		}
		t.Logf("tags before: %s", o.run("repo", "tags", h))
		t.Logf("referrers before: %v", before)

		policy := retention.Policy{Keep: []retention.KeepRule{{Tags: []string{"v1", "art-keep", "multi", "stable"}}}, Delete: []retention.DeleteRule{{}}, DeleteReferrers: true}
		plan := decideRepository(t, c, "app", policy)
		var planned []string
		for _, d := range plan.Decisions {
			t.Logf("decision %s %s %v refs=%v children=%v (%s)", d.Action, d.Digest, d.Tags, d.Referrers, d.Children, d.Reason)
			planned = append(planned, d.Digest)
		}
		if slices.Contains(planned, v1img.Digest.String()) || slices.Contains(planned, artKeep) || slices.Contains(planned, multi) {
			t.Errorf("the plan deletes a kept image")
		}
		b := batchOf("app", plan.Decisions)
		b.Policy, b.Now = &policy, time.Now()
		report, err := c.ExecuteBatches(ctx, []Batch{b})
		t.Logf("apply: %v; deleted %d untagged %d\nskipped %q\nrestored %q\nlost %q\nwarnings %q", err, report.Deleted, report.Untagged, report.Skipped, report.Restored, report.Lost, report.Warnings)
		if err != nil || len(report.Lost) > 0 || len(report.Skipped) > 0 || len(report.Restored) > 0 {
			t.Errorf("apply on an idle registry: err %v, skipped %q, restored %q, lost %q", err, report.Skipped, report.Restored, report.Lost)
		}
		for _, w := range report.Warnings {
			if !strings.Contains(w, "journal") {
				t.Errorf("warning on an idle registry: %s", w)
			}
		}
		t.Logf("tags after: %s", o.run("repo", "tags", h))
		for _, ref := range keepRefs {
			if out, err := o.tryRun("pull", "-o", filepath.Join(o.dir, "pull"), ref); err != nil {
				if _, ferr := o.tryRun("manifest", "fetch", ref); ferr != nil {
					t.Errorf("%s not served after the apply: %s", ref, out)
				}
			}
			after := o.referrers(ref)
			if !slices.Equal(after, before[ref]) {
				t.Errorf("referrers of %s: before %v, after %v", ref, before[ref], after)
			}
			for _, r := range after {
				if out, err := o.tryRun("manifest", "fetch", h+"@"+r); err != nil {
					t.Errorf("referrer %s of %s not served: %s", r, ref, out)
				}
				if out, err := o.tryRun("pull", "-o", filepath.Join(o.dir, "pullr"), h+"@"+r); err != nil {
					t.Errorf("referrer %s of %s cannot be pulled: %s", r, ref, out)
				}
			}
		}
		if _, err := o.tryRun("manifest", "fetch", h+"@"+oldimg.Digest.String()); err == nil {
			t.Errorf("old %s still served", oldimg.Digest)
		}
		// the next plan: only the signed SBOM's fallback index of the
		// deleted image may remain (TestReview48SignedSBOMLeftForNextPlan)
		again := decideRepository(t, c, "app", policy)
		for _, d := range again.Decisions {
			if !strings.Contains(d.Reason, "which no longer exists") {
				t.Errorf("the next plan is not empty: %s %s %v (%s)", d.Action, d.Digest, d.Tags, d.Reason)
			}
		}
		if n := len(plan.Decisions); report.Deleted+report.Untagged < n {
			t.Logf("note: %d decisions, %d deleted + %d untagged", n, report.Deleted, report.Untagged)
		}
	})
}

// oras attach an SBOM to "old", and a signature to that SBOM (two
// fallback indexes: sha256-<old> lists the SBOM, sha256-<sbom> lists the
// signature). delete_referrers = true, "old" deleted: the referrers of its
// referrers should go in the same apply, and the next plan be empty.
func TestReview48SignedSBOMLeftForNextPlan(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		o := newOras48(t)
		h := reg.Host + "/app"
		c := newClient(t, Config{URL: reg.URL})
		if _, err := reg.PushImage("app", time.Now().Add(-time.Hour), "keep"); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage("app", time.Now().Add(-2*time.Hour), "old"); err != nil {
			t.Fatal(err)
		}
		sbom := o.pushed("attach", "--artifact-type", "application/spdx+json", h+":old", o.file("sbom.json", `{"spdx":1}`))
		sig := o.pushed("attach", "--artifact-type", "application/vnd.example.signature", h+"@"+sbom, o.file("sig.txt", "sig"))
		policy := retention.Policy{Keep: []retention.KeepRule{{Tags: []string{"keep"}}}, Delete: []retention.DeleteRule{{}}, DeleteReferrers: true}
		plan := decideRepository(t, c, "app", policy)
		for _, d := range plan.Decisions {
			t.Logf("plan: %s %s %v refs=%v (%s)", d.Action, d.Digest, d.Tags, d.Referrers, d.Reason)
		}
		b := batchOf("app", plan.Decisions)
		b.Policy, b.Now = &policy, time.Now()
		report, err := c.ExecuteBatches(context.Background(), []Batch{b})
		if err != nil || len(report.Lost) > 0 {
			t.Fatalf("apply: %v lost %q", err, report.Lost)
		}
		if out, err := o.tryRun("manifest", "fetch", h+"@"+sig); err == nil {
			t.Errorf("the signature %s of the deleted image's SBOM %s is still served after the apply", sig, sbom)
		} else {
			t.Logf("signature gone: %s", out)
		}
		for _, d := range decideRepository(t, c, "app", policy).Decisions {
			t.Errorf("the next plan is not empty: %s %s %v (%s)", d.Action, d.Digest, d.Tags, d.Reason)
		}
	})
}
