package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 40: replicas following their primary (retention.FollowPrimary,
// PlanReplica, ReplicaBatch, Report.Performed), against real registries.

// copyRaw copies the manifest digest of repo (its config and layers first)
// from src to dst byte for byte, under ref (a tag, or the digest): the same
// digest, and unlike a ggcr write no fallback referrers tag is added for a
// manifest naming a subject (a mirror copies what the source has).
func copyRaw(t *testing.T, src, dst *testregistry.Registry, repo string, digest v1.Hash, ref string) {
	t.Helper()
	from, err := name.NewRepository(src.Host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	to, err := name.NewRepository(dst.Host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(from.Digest(digest.String()), src.RemoteOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	for _, blob := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		layer, err := remote.Layer(from.Digest(blob.Digest.String()), src.RemoteOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.WriteLayer(to, layer, dst.RemoteOptions()...); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/v2/%s/manifests/%s", dst.URL, repo, ref), bytes.NewReader(desc.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", string(desc.MediaType))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT %s to the replica: %s", digest, resp.Status)
	}
}

// followPrimary does what the provider does for one replica and one
// repository: plan on the replica against the primary's decisions (at
// plan time, before the primary's apply), then, once the primary applied,
// carry out the part the primary's apply performed (the provider's
// performedOnly, reproduced here).
func planReplica(t *testing.T, replica *Client, repo string, decisions []retention.Decision) retention.ReplicaPlan {
	t.Helper()
	p, err := replica.PlanReplica(context.Background(), repo, decisions)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func applyReplica(t *testing.T, replica *Client, repo string, p retention.ReplicaPlan, performed Performed) Report {
	t.Helper()
	b := ReplicaBatch(repo, p)
	var manifests []ManifestDeletion
	for _, m := range b.Manifests {
		if !performed.Digests[m.Digest] {
			continue
		}
		m.Children = keepIn(m.Children, performed.Digests)
		m.Referrers = keepIn(m.Referrers, performed.Digests)
		manifests = append(manifests, m)
	}
	untag := map[string]string{}
	for tag, digest := range b.Untag {
		if performed.Tags[tag] {
			untag[tag] = digest
		}
	}
	b.Manifests, b.Untag = manifests, untag
	report, err := replica.ExecuteBatches(context.Background(), []Batch{b})
	if err != nil {
		t.Fatal(err)
	}
	return report
}

func keepIn(values []string, in map[string]bool) []string {
	var out []string
	for _, v := range values {
		if in[v] {
			out = append(out, v)
		}
	}
	return out
}

// A planned tag removal the primary's apply skips (the tag moved onto
// another image right before its removal: the apply resolves it once more
// and leaves it, "kept tag app:t: it moved") is reported as performed, so
// the replica removes that tag: the promise is that what the primary's
// apply skipped is skipped on the replicas too.
func TestReview40ReplicaRemovesATagThePrimarysApplyKept(t *testing.T) {
	primary, replica := testregistry.Start(t), testregistry.Start(t)
	a, err := primary.PushImage("app", time.Time{}, "keep", "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := primary.PushImage("app", time.Time{}, "old"); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"keep", "old"} {
		if err := primary.CopyTo(replica, "app", tag); err != nil {
			t.Fatal(err)
		}
	}
	if err := replica.Tag("app", a.Digest, "t"); err != nil {
		t.Fatal(err)
	}
	c2, err := primary.PushImage("app", time.Time{}) // where t moves during the apply
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, primary.URL)
	pc := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1}) // items one after the other: old's DELETE, then t
	rc := newClient(t, Config{URL: replica.URL})
	policy := retention.Policy{Keep: []retention.KeepRule{{Tags: []string{"keep"}}}, Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^(t|old)$")}}, DeleteReferrers: true}
	plan := decideRepository(t, pc, "app", policy)
	rplan := planReplica(t, rc, "app", plan.Decisions)
	if rplan.Untag["t"] != a.Digest.String() {
		t.Fatalf("replica plan %+v; want t removed from %s", rplan, a.Digest)
	}
	var once sync.Once
	proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/app/manifests/") {
			once.Do(func() { // someone moves t onto another image while the apply runs
				if err := primary.Tag("app", c2.Digest, "t"); err != nil {
					t.Error(err)
				}
			})
		}
		return false
	})
	report, err := pc.ExecuteBatches(context.Background(), []Batch{batchOf("app", plan.Decisions)})
	if err != nil {
		t.Fatal(err)
	}
	skippedLike(t, report, `kept tag app:t: it moved from`)
	if got := resolvesTo(t, primary, "app", "t"); got != c2.Digest.String() {
		t.Fatalf("primary t = %s; want %s", got, c2.Digest)
	}
	if report.Performed["app"].Tags["t"] {
		t.Errorf("Report.Performed says the primary removed t; it skipped it (%q)", report.Skipped)
	}
	applyReplica(t, rc, "app", rplan, report.Performed["app"])
	if got := resolvesTo(t, replica, "app", "t"); got != a.Digest.String() {
		t.Errorf("replica t = %q; the primary kept t (moved it), so the replica must keep it on %s", got, a.Digest)
	}
}

// Same cause: the tags of a manifest deletion count as performed even
// when one of them had moved away from the digest before the primary's
// apply (the apply notes "it moved away" and does not remove it). A
// replica where that digest stays (a tag only it has) then removes the
// tag the primary kept.
func TestReview40ReplicaRemovesATagThatMovedAwayOnThePrimary(t *testing.T) {
	primary, replica := testregistry.Start(t), testregistry.Start(t)
	b, err := primary.PushImage("app", time.Time{}, "old", "old2")
	if err != nil {
		t.Fatal(err)
	}
	if err := primary.CopyTo(replica, "app", "old"); err != nil {
		t.Fatal(err)
	}
	if err := replica.Tag("app", b.Digest, "old2", "pinned-on-replica"); err != nil {
		t.Fatal(err)
	}
	pc, rc := newClient(t, Config{URL: primary.URL}), newClient(t, Config{URL: replica.URL})
	plan := decideRepository(t, pc, "app", retention.Policy{Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^old")}}, DeleteReferrers: true})
	rplan := planReplica(t, rc, "app", plan.Decisions)
	if len(rplan.Untag) != 2 {
		t.Fatalf("replica plan %+v; want old and old2 removed from %s, which pinned-on-replica keeps", rplan, b.Digest)
	}
	moved, err := primary.PushImage("app", time.Time{}, "old2") // old2 moves on before the apply
	if err != nil {
		t.Fatal(err)
	}
	report, err := pc.ExecuteBatches(context.Background(), []Batch{batchOf("app", plan.Decisions)})
	if err != nil {
		t.Fatal(err)
	}
	skippedLike(t, report, `kept tag app:old2: it moved away from `+b.Digest.String()+` since the plan`)
	if got := resolvesTo(t, primary, "app", "old2"); got != moved.Digest.String() {
		t.Fatalf("primary old2 = %s; want it kept on %s", got, moved.Digest)
	}
	if report.Performed["app"].Tags["old2"] {
		t.Errorf("Report.Performed says the primary removed old2; it moved away and stays (%q)", report.Skipped)
	}
	applyReplica(t, rc, "app", rplan, report.Performed["app"])
	if got := resolvesTo(t, replica, "app", "old2"); got != b.Digest.String() {
		t.Errorf("replica old2 = %q; the primary did not remove old2, the replica must not either", got)
	}
}

// The primary deletes a signature whose subject it no longer holds (an
// orphan: delete_referrers). The replica still holds and keeps that
// subject (tagged there), yet follows the deletion: the image the replica
// keeps loses its signature. FollowPrimary's own rule is that a referrer
// goes only with its subject.
func TestReview40ReplicaDeletesTheSignatureOfAnImageItKeeps(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, primary *testregistry.Registry) {
		replica := testregistry.Start(t)
		img, err := primary.PushImage("app", time.Time{}, "v1")
		if err != nil {
			t.Fatal(err)
		}
		sig, err := primary.PushReferrer("app", img.Digest, "sig")
		if err != nil {
			t.Fatal(err)
		}
		sigTag := strings.Replace(img.Digest.String(), ":", "-", 1) + ".sig"
		copyRaw(t, primary, replica, "app", img.Digest, "v1")
		copyRaw(t, primary, replica, "app", sig, sigTag)
		// The primary lost the image (deleted by hand, or an apply stopped
		// between a subject and its referrers); the replica keeps it.
		if err := primary.DeleteManifest("app", img.Digest); err != nil {
			t.Fatal(err)
		}
		pc, rc := newClient(t, Config{URL: primary.URL}), newClient(t, Config{URL: replica.URL})
		plan := decideRepository(t, pc, "app", deletePR())
		if len(plan.Decisions) != 1 || plan.Decisions[0].Digest != sig.String() {
			t.Fatalf("primary decisions %+v; want the orphaned signature %s deleted", plan.Decisions, sig)
		}
		rplan := planReplica(t, rc, "app", plan.Decisions)
		for _, m := range rplan.Manifests {
			if m.Digest == sig.String() {
				t.Errorf("the replica plans to delete %s, the signature of %s, which it keeps (tagged v1)", sig, img.Digest)
			}
		}
		report, err := pc.ExecuteBatches(context.Background(), []Batch{batchOf("app", plan.Decisions)})
		if err != nil {
			t.Fatal(err)
		}
		applyReplica(t, rc, "app", rplan, report.Performed["app"])
		mustExist(t, replica, "app", true, img.Digest, sig)
		tags, err := replica.Tags("app")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(tags, " "), sigTag) {
			t.Errorf("replica tags %q; want %s kept with the image it signs", tags, sigTag)
		}
	})
}

// A replica-only attestation tagged with an ordinary name (an OCI
// artifact naming its subject, e.g. "v1-sbom") keeps its subject, as on
// the primary. PlanReplica reads the replica with HEADs only, so it never
// learns the subject: the plan (replica_deletions) says the replica
// deletes the image, with no "Kept on a replica" warning. The apply's
// checks read the body and skip it (see the test after this one).
func TestReview40ReplicaPlanDeletesTheSubjectOfATaggedAttestation(t *testing.T) {
	primary, replica := testregistry.Start(t), testregistry.Start(t)
	img, err := primary.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := primary.CopyTo(replica, "app", "pr-1"); err != nil {
		t.Fatal(err)
	}
	sbom, err := replica.PushUntaggedReferrer("app", img.Digest, "sbom")
	if err != nil {
		t.Fatal(err)
	}
	if err := replica.Tag("app", sbom, "pr-1-sbom-kept"); err != nil {
		t.Fatal(err)
	}
	pc, rc := newClient(t, Config{URL: primary.URL}), newClient(t, Config{URL: replica.URL})
	plan := decideRepository(t, pc, "app", deletePR())
	rplan := planReplica(t, rc, "app", plan.Decisions)
	for _, m := range rplan.Manifests {
		if m.Digest == img.Digest.String() {
			t.Errorf("the replica plans to delete %s, the subject of its tagged attestation pr-1-sbom-kept (%s); want it kept (and reported in Kept)", img.Digest, sbom)
		}
	}
	if len(rplan.Kept) == 0 {
		t.Errorf("nothing reported kept on the replica; plan %+v", rplan)
	}
}

// The apply on the replica reads the bodies of what stays: the tagged
// attestation's subject is kept however the plan read it.
func TestReview40ReplicaApplyKeepsTheSubjectOfATaggedAttestation(t *testing.T) {
	primary, replica := testregistry.Start(t), testregistry.Start(t)
	img, err := primary.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := primary.CopyTo(replica, "app", "pr-1"); err != nil {
		t.Fatal(err)
	}
	sbom, err := replica.PushUntaggedReferrer("app", img.Digest, "sbom")
	if err != nil {
		t.Fatal(err)
	}
	if err := replica.Tag("app", sbom, "pr-1-sbom-kept"); err != nil {
		t.Fatal(err)
	}
	pc, rc := newClient(t, Config{URL: primary.URL}), newClient(t, Config{URL: replica.URL})
	plan := decideRepository(t, pc, "app", deletePR())
	rplan := planReplica(t, rc, "app", plan.Decisions)
	report, err := pc.ExecuteBatches(context.Background(), []Batch{batchOf("app", plan.Decisions)})
	if err != nil {
		t.Fatal(err)
	}
	applyReplica(t, rc, "app", rplan, report.Performed["app"])
	mustExist(t, replica, "app", true, img.Digest, sbom)
	if got := resolvesTo(t, replica, "app", "pr-1-sbom-kept"); got != sbom.String() {
		t.Errorf("pr-1-sbom-kept = %q; want %s", got, sbom)
	}
}
