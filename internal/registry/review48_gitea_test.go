//go:build review48gitea

package registry

// Review 48, Gitea 1.26 (live; build tag review48gitea, never in make test).
// Run: GITEA_URL=http://127.0.0.1:<port> GITEA_USER=probeadmin GITEA_PASS=...
// GITEA_ORG=probeorg GITEA_USER2=outsider GITEA_PASS2=... REVIEW48_UNSKIP=1
// go test -tags review48gitea -run TestReview48Gitea ./internal/registry/
// (header: see review48_clients_test.go, which lists what held).

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

type gitea48 struct {
	url, host, user, pass, org string
	auth                       authn.Authenticator
}

func gitea48Env(t *testing.T) gitea48 {
	t.Helper()
	u := os.Getenv("GITEA_URL")
	if u == "" {
		t.Skip("GITEA_URL not set")
	}
	g := gitea48{url: u, host: strings.TrimPrefix(u, "http://"), user: os.Getenv("GITEA_USER"), pass: os.Getenv("GITEA_PASS"), org: os.Getenv("GITEA_ORG")}
	g.auth = &authn.Basic{Username: g.user, Password: g.pass}
	return g
}

func (g gitea48) client(t *testing.T, url string) *Client {
	t.Helper()
	return newClient(t, Config{URL: url, Username: g.user, Password: g.pass, RetryMaxAttempts: 2, MaxConcurrency: 1})
}

func (g gitea48) ref(repo, r string) name.Reference {
	sep := ":"
	if strings.HasPrefix(r, "sha256:") {
		sep = "@"
	}
	ref, err := name.ParseReference(g.host+"/"+repo+sep+r, name.Insecure)
	if err != nil {
		panic(err)
	}
	return ref
}

func (g gitea48) push(t *testing.T, repo string, img v1.Image, tags ...string) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(g.ref(repo, tags[0]), img, remote.WithAuth(g.auth)); err != nil {
		t.Fatalf("push %s:%s: %v", repo, tags[0], err)
	}
	for _, tag := range tags[1:] {
		if err := remote.Tag(g.ref(repo, tag).(name.Tag), img, remote.WithAuth(g.auth)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func (g gitea48) image(t *testing.T, created time.Time) v1.Image {
	t.Helper()
	img, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.CreatedAt(img, v1.Time{Time: created}); err != nil {
		t.Fatal(err)
	}
	return img
}

func (g gitea48) served(repo, r string) bool {
	_, err := remote.Head(g.ref(repo, r), remote.WithAuth(g.auth))
	return err == nil
}

func (g gitea48) blobHeld(repo string, d v1.Hash) bool {
	req, _ := http.NewRequest(http.MethodHead, fmt.Sprintf("%s/v2/%s/blobs/%s", g.url, repo, d), nil)
	req.SetBasicAuth(g.user, g.pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func uniq48(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()%100000000)
}

func only48(g gitea48, repo string) retention.Selection {
	return retention.Selection{Include: []*regexp.Regexp{regexp.MustCompile("^" + regexp.QuoteMeta(repo) + "$")}}
}

// A deployment names the image as it was pushed, "app:Latest". Gitea
// serves that reference (tags resolve case-insensitively) but lists the
// tag as "latest". keep { images } compares the reference's tag with the
// listed names byte for byte: nothing keeps "latest", delete {} deletes
// it, and the plan says nothing (MissingImages only covers digests).
// The deployment's image stops being served.
// Regression test of review 48 (fixed; run live against Gitea, see above).
func TestReview48GiteaDeployedTagInOtherCaseDeleted(t *testing.T) {
	g := gitea48Env(t)
	ctx := context.Background()
	c := g.client(t, g.url)
	repo := g.org + "/" + uniq48("case")
	deployed := g.push(t, repo, g.image(t, time.Now().Add(-48*time.Hour)), "Latest")
	g.push(t, repo, g.image(t, time.Now().Add(-72*time.Hour)), "old")
	ref := g.host + "/" + repo + ":Latest"
	if !g.served(repo, "Latest") {
		t.Fatalf("%s is not served", ref)
	}
	images, _, err := retention.ParseImages([]string{ref}, retention.NewHosts("http", g.host, nil))
	if err != nil || len(images) != 1 {
		t.Fatalf("ParseImages: %v %+v", err, images)
	}
	policy := retention.Policy{Images: images, Delete: []retention.DeleteRule{{}}, DeleteReferrers: true}
	plan, err := c.DecideRetention(ctx, only48(g, repo), policy, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tags listed: %v; missing=%v", mustTags48(t, c, repo), plan.MissingImages)
	for _, d := range plan.Decisions {
		t.Logf("decision: %+v", d)
		if d.Digest == deployed.String() {
			t.Errorf("the plan deletes %s, the image the deployment pulls as %s (missing-image warnings: %v)", deployed, ref, plan.MissingImages)
		}
	}
}

func mustTags48(t *testing.T, c *Client, repo string) []string {
	tags, err := c.Tags(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	return tags
}

// The freed-at-once probe asks about the blobs of the chunk's first
// deleted image only. When that image's blobs are all still used by an
// image that stays (oras push writes a new manifest, with a new created
// annotation, for the same files; a re-push of the same build; an image
// re-pushed as OCI and Docker media types), Gitea still holds them, the
// probe decides "not freed" and never asks again: the apply deletes the
// other, unique-blob images of the repository, whose blobs Gitea frees at
// once, without the warning that nothing can be put back.
// Regression test of review 48 (fixed; run live against Gitea, see above).
func TestReview48GiteaFreedAtOnceProbeMisfires(t *testing.T) {
	g := gitea48Env(t)
	ctx := context.Background()
	c := g.client(t, g.url)
	for attempt := 0; attempt < 8; attempt++ {
		repo := g.org + "/" + uniq48("freed")
		kept := g.image(t, time.Now().Add(-time.Hour))
		g.push(t, repo, kept, "keep")
		// same config and layers as "keep", another manifest (an annotation)
		same := mutate.Annotations(kept, map[string]string{"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}).(v1.Image)
		shared := g.push(t, repo, same, "repush")
		unique := g.image(t, time.Now().Add(-2*time.Hour))
		uniqueDigest := g.push(t, repo, unique, "old")
		policy := retention.Policy{Keep: []retention.KeepRule{{Tags: []string{"keep"}}}, Delete: []retention.DeleteRule{{}}, DeleteReferrers: true}
		plan, err := c.DecideRetention(ctx, only48(g, repo), policy, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		b := batchOf(repo, plan.Decisions)
		if len(b.Manifests) != 2 || b.Manifests[0].Digest != shared.String() {
			t.Logf("attempt %d: order %+v, shared %s first wanted", attempt, b.Manifests, shared)
			continue
		}
		report, err := c.ExecuteBatches(ctx, []Batch{b})
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := unique.ConfigName()
		t.Logf("warnings %q\nrestored %q lost %q; unique image's config blob held: %v", report.Warnings, report.Restored, report.Lost, g.blobHeld(repo, cfg))
		if g.blobHeld(repo, cfg) {
			t.Fatalf("Gitea kept the blobs of %s: the premise does not hold", uniqueDigest)
		}
		if !strings.Contains(strings.Join(report.Warnings, "\n"), "frees a deleted manifest's blobs") {
			t.Errorf("no freed-at-once warning, though the blobs of %s (deleted by this apply) are gone", uniqueDigest)
		}
		return
	}
	t.Fatal("no layout with the shared-blob image first")
}

// A kept tag moved onto a planned image right before its DELETE (the
// registry API's window) on Gitea. The Safety guide promises: "a kept tag
// moved onto a planned image during the apply goes with it and is
// reported as lost (the apply fails naming it, never a silent success)".
// But Gitea drops the manifest a tag moved away from when no other tag
// holds it, so verification's restoreTag finds the tag's last-read image
// gone, takes it for someone else's deletion ("which this apply did not
// delete: left as it is", a warning) and returns before restoreSuspects:
// "stable" is not served, the apply succeeds, Lost is empty.
// Regression test of review 48 (fixed; run live against Gitea, see above).
func TestReview48GiteaMovedKeptTag(t *testing.T) {
	g := gitea48Env(t)
	ctx := context.Background()
	proxy := newFaultProxy(t, g.url)
	c := g.client(t, proxy.URL)
	repo := g.org + "/" + uniq48("moved")
	stable := g.image(t, time.Now().Add(-time.Hour))
	g.push(t, repo, stable, "stable")
	planned := g.image(t, time.Now().Add(-2*time.Hour))
	sd, _ := stable.Digest()
	pd := g.push(t, repo, planned, "old")
	policy := retention.Policy{Keep: []retention.KeepRule{{Tags: []string{"stable"}}}, Delete: []retention.DeleteRule{{}}, DeleteReferrers: true}
	plan, err := c.DecideRetention(ctx, only48(g, repo), policy, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var moved atomic.Bool
	proxy.setFault(func(_ http.ResponseWriter, req *http.Request) bool {
		if req.Method == http.MethodDelete && strings.HasSuffix(req.URL.Path, pd.String()) && moved.CompareAndSwap(false, true) {
			if err := remote.Tag(g.ref(repo, "stable").(name.Tag), planned, remote.WithAuth(g.auth)); err != nil {
				t.Error(err)
			}
		}
		return false
	})
	report, err := c.ExecuteBatches(ctx, Batches(plan.Decisions))
	t.Logf("err=%v\nrestored %q\nlost %q\nwarnings %q\nskipped %q", err, report.Restored, report.Lost, report.Warnings, report.Skipped)
	if !moved.Load() {
		t.Fatal("never moved")
	}
	t.Logf("stable served: %v; its image before the move (%s) served by digest: %v", g.served(repo, "stable"), sd, g.served(repo, sd.String()))
	if !g.served(repo, "stable") && err == nil && len(report.Lost) == 0 {
		t.Errorf("stable is gone and the apply reports success")
	}
}

// outsider reads probeorg's packages but cannot write: what does the plan
// and the apply say?
func TestReview48GiteaReadOnlyUser(t *testing.T) {
	g := gitea48Env(t)
	ctx := context.Background()
	u, p := os.Getenv("GITEA_USER2"), os.Getenv("GITEA_PASS2")
	if u == "" {
		t.Skip("GITEA_USER2 not set")
	}
	repo := g.org + "/" + uniq48("ro")
	g.push(t, repo, g.image(t, time.Now().Add(-time.Hour)), "keep")
	g.push(t, repo, g.image(t, time.Now().Add(-2*time.Hour)), "Old")
	c2 := newClient(t, Config{URL: g.url, Username: u, Password: p, RetryMaxAttempts: 1})
	policy := retention.Policy{Keep: []retention.KeepRule{{Tags: []string{"keep"}}}, Delete: []retention.DeleteRule{{}}, DeleteReferrers: true}
	plan, err := c2.DecideRetention(ctx, only48(g, repo), policy, time.Now())
	t.Logf("plan: %v decisions=%+v", err, plan.Decisions)
	t.Logf("CheckDeletable: %v", c2.CheckDeletable(ctx, repo))
	t.Logf("CheckRestorable: %v", c2.CheckRestorable(ctx, repo))
	if err == nil {
		report, err := c2.ExecuteBatches(ctx, Batches(plan.Decisions))
		t.Logf("apply: %v\nreport %+v", err, report)
	}
	bad := newClient(t, Config{URL: g.url, Username: u, Password: "wrong", RetryMaxAttempts: 1})
	_, err = bad.DecideRetention(ctx, only48(g, repo), policy, time.Now())
	t.Logf("wrong password plan: %v", err)
	t.Logf("wrong password CheckDeletable: %v", bad.CheckDeletable(ctx, repo))
}

// oras attach on Gitea (referrers API or fallback, as oras finds): a kept
// image keeps every level of its referrers; a deleted one's go with it
// (delete_referrers); the next plan is empty.
func TestReview48GiteaOrasReferrers(t *testing.T) {
	g := gitea48Env(t)
	o := newOras48(t)
	ctx := context.Background()
	c := g.client(t, g.url)
	repo := g.org + "/" + uniq48("refs")
	h := g.host + "/" + repo
	o.run("login", "-u", g.user, "-p", g.pass, g.host)
	g.push(t, repo, g.image(t, time.Now().Add(-time.Hour)), "v1")
	g.push(t, repo, g.image(t, time.Now().Add(-2*time.Hour)), "old")
	for _, img := range []string{"v1", "old"} {
		sbom := o.pushed("attach", "--artifact-type", "application/spdx+json", h+":"+img, o.file("sbom-"+img+".json", `{"spdx":"`+img+`"}`))
		o.pushed("attach", "--artifact-type", "application/vnd.example.signature", h+"@"+sbom, o.file("sig-"+img+".txt", "sig "+img))
	}
	before := o.referrers(h + ":v1")
	oldRefs := o.referrers(h + ":old")
	t.Logf("tags %s; v1 referrers %v; old referrers %v", o.run("repo", "tags", h), before, oldRefs)
	policy := retention.Policy{Keep: []retention.KeepRule{{Tags: []string{"v1"}}}, Delete: []retention.DeleteRule{{}}, DeleteReferrers: true}
	plan, err := c.DecideRetention(ctx, only48(g, repo), policy, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range plan.Decisions {
		t.Logf("plan: %s %s %v refs=%v (%s)", d.Action, d.Digest, d.Tags, d.Referrers, d.Reason)
	}
	report, err := c.ExecuteBatches(ctx, Batches(plan.Decisions))
	t.Logf("apply: %v restored %q lost %q warnings %q", err, report.Restored, report.Lost, report.Warnings)
	if after := o.referrers(h + ":v1"); !slices.Equal(after, before) {
		t.Errorf("v1 referrers before %v after %v", before, after)
	}
	for _, r := range before {
		if out, err := o.tryRun("pull", "-o", o.dir+"/p", h+"@"+r); err != nil {
			t.Errorf("referrer %s of v1 cannot be pulled: %s", r, out)
		}
	}
	for _, r := range oldRefs {
		if _, err := o.tryRun("manifest", "fetch", h+"@"+r); err == nil {
			t.Logf("referrer %s of the deleted old still served", r)
		}
	}
	again, err := c.DecideRetention(ctx, only48(g, repo), policy, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range again.Decisions {
		t.Logf("next plan: %s %s %v (%s)", d.Action, d.Digest, d.Tags, d.Reason)
	}
}

// registry_tag_deletion and registry_manifest_deletion naming a tag in
// another case than Gitea lists it.
func TestReview48GiteaExplicitCase(t *testing.T) {
	g := gitea48Env(t)
	ctx := context.Background()
	c := g.client(t, g.url)
	repo := g.org + "/" + uniq48("xcase")
	d := g.push(t, repo, g.image(t, time.Now().Add(-time.Hour)), "Latest")
	g.push(t, repo, g.image(t, time.Now().Add(-time.Hour)), "other")
	td, err := c.PlanTagDeletion(ctx, repo, []string{"Latest"}, true)
	t.Logf("PlanTagDeletion(Latest): %+v err=%v", td, err)
	md, err := c.PlanManifestDeletion(ctx, repo, "Latest", true)
	t.Logf("PlanManifestDeletion(Latest): %+v err=%v (digest %s)", md, err, d)
	if err == nil {
		_, err = c.ExecuteManifestDeletion(ctx, md)
		t.Logf("ExecuteManifestDeletion: %v; Latest served %v, other served %v", err, g.served(repo, "Latest"), g.served(repo, "other"))
	}
}
