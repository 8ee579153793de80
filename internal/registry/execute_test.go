package registry

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// planPolicy plans "delete every tag matching pattern" over repo, as a
// retention plan does, and returns the batch an apply would carry out.
func planPolicy(t *testing.T, c *Client, repo, pattern string) Batch {
	t.Helper()
	policy := retention.Policy{
		Delete:          []retention.DeleteRule{{TagRegex: regexp.MustCompile(pattern)}},
		DeleteReferrers: true,
	}
	return batchOf(repo, decideRepository(t, c, repo, policy).Decisions)
}

// decideRepository runs policy over repo alone.
func decideRepository(t *testing.T, c *Client, repo string, policy retention.Policy) RetentionPlan {
	t.Helper()
	plan, err := c.DecideRetention(context.Background(), retention.Selection{Include: []*regexp.Regexp{regexp.MustCompile("^" + regexp.QuoteMeta(repo) + "$")}}, policy, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// batchOf is what the provider hands the client for decisions on repo.
func batchOf(repo string, decisions []retention.Decision) Batch {
	if all := Batches(decisions); len(all) == 1 && all[0].Repository == repo {
		return all[0]
	}
	if len(decisions) > 0 {
		panic("batchOf: decisions of another repository than " + repo)
	}
	return Batch{Repository: repo, Untag: map[string]string{}}
}

func mustExist(t *testing.T, reg *testregistry.Registry, repo string, exists bool, digests ...v1.Hash) {
	t.Helper()
	for _, d := range digests {
		found, err := reg.ManifestExists(repo, d)
		if err != nil {
			t.Fatal(err)
		}
		if found != exists {
			t.Errorf("manifest %s exists = %v, want %v", d, found, exists)
		}
	}
}

func skippedLike(t *testing.T, report Report, pattern string) {
	t.Helper()
	re := regexp.MustCompile(pattern)
	if !slices.ContainsFunc(report.Skipped, re.MatchString) {
		t.Errorf("no skip note matches %q; notes: %q", pattern, report.Skipped)
	}
}

// A tagged index or a tagged image naming a planned digest as its subject,
// pushed after the plan, keeps that digest: deleting it would break them.
func TestApplyKeepsWhatATaggedIndexOrSubjectStartedUsing(t *testing.T) {
	reg := testregistry.Start(t)
	ctx := context.Background()
	child, err := reg.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	subject, err := reg.PushImage("app", time.Time{}, "pr-2")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := reg.PushImage("app", time.Time{}, "pr-3")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	batch := planPolicy(t, c, "app", "^pr-")
	if len(batch.Manifests) != 3 {
		t.Fatalf("planned %d manifest deletions, want 3", len(batch.Manifests))
	}
	// After the plan: a release index reuses pr-1's image, and an
	// attestation tagged "provenance" names pr-2's image as its subject.
	index, err := reg.PushIndexOf("app", []v1.Hash{child.Digest}, "release")
	if err != nil {
		t.Fatal(err)
	}
	attestation, err := reg.PushUntaggedReferrer("app", subject.Digest, "att")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Tag("app", attestation, "provenance"); err != nil {
		t.Fatal(err)
	}

	report, err := newClient(t, Config{URL: reg.URL}).ExecuteBatches(ctx, []Batch{batch})
	if err != nil {
		t.Fatal(err)
	}
	mustExist(t, reg, "app", true, child.Digest, index, subject.Digest, attestation)
	mustExist(t, reg, "app", false, gone.Digest)
	skippedLike(t, report, `kept `+child.Digest.String()+`: since the plan, tag release .* use\(s\) it`)
	skippedLike(t, report, `kept `+subject.Digest.String()+`: since the plan, tag provenance .* use\(s\) it`)
	if report.Deleted != 1 || len(report.Finished) != 1 {
		t.Errorf("report %+v; want 1 deletion, app finished", report)
	}
}

// A planned tag moved since the plan onto a child of another planned
// index keeps that child: deleting the digest the tag was planned with no
// longer removes the tag, so what it points at now stays (CHAOS_SEED=761332
// lost such a tag). The apply runs in another process than the plan, as
// Terraform runs them (its own planning pass is view_test.go's case).
func TestApplyKeepsAChildAPlannedTagMovedOnto(t *testing.T) {
	reg := testregistry.Start(t)
	old, err := reg.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	index, children, err := reg.PushIndex("app", platforms, time.Time{}, "pr-2")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	batch := planPolicy(t, c, "app", "^pr-")
	if len(batch.Manifests) != 2 {
		t.Fatalf("planned %d manifest deletions, want 2", len(batch.Manifests))
	}
	// After the plan, pr-1 is moved onto one platform image of pr-2's index.
	if err := reg.Tag("app", children[0], "pr-1"); err != nil {
		t.Fatal(err)
	}

	report, err := newClient(t, Config{URL: reg.URL}).ExecuteBatches(context.Background(), []Batch{batch})
	if err != nil {
		t.Fatal(err)
	}
	mustExist(t, reg, "app", true, children[0])
	mustExist(t, reg, "app", false, old.Digest, index, children[1])
	if tags, err := reg.Tags("app"); err != nil || !slices.Equal(tags, []string{"pr-1"}) {
		t.Errorf("tags %v (%v); want pr-1 alone", tags, err)
	}
	skippedLike(t, report, `kept tag app:pr-1: it moved away from `+old.Digest.String())
}

// The retag race: a tag that stays is moved onto a planned digest in the
// registry API's window (after every check, before the DELETE reaches
// the registry), and the DELETE takes it along. Verification after the
// chunk finds it gone and puts it back, restoring its image from the
// journal, and reports it: the apply never fails for it. The registry
// API cannot say which of the chunk's manifests stable had been moved
// onto, so both are put back, untagged (restoreSuspects): nothing deleted.
func TestApplyRestoresATagTakenAlongByADelete(t *testing.T) {
	reg := testregistry.Start(t)
	planned, err := reg.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage("app", time.Time{}, "pr-2"); err != nil {
		t.Fatal(err)
	}
	stable, err := reg.PushImage("app", time.Time{}, "stable")
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL})
	batch := planPolicy(t, c, "app", "^pr-")
	onFirstDeleteOf(proxy, planned.Digest.String(), func() { // "stable" rolled back onto pr-1's image, just too late to be seen
		if err := reg.Tag("app", planned.Digest, "stable"); err != nil {
			t.Error(err)
		}
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	if err != nil {
		t.Fatal(err)
	}
	got, err := newClient(t, Config{URL: reg.URL}).Resolve(context.Background(), "app", "stable")
	if err != nil || got.Digest != stable.Digest.String() {
		t.Fatalf("stable resolves to %q (%v); want it back on %s", got.Digest, err, stable.Digest)
	}
	if !slices.ContainsFunc(report.Restored, func(s string) bool { return strings.Contains(s, "tag app:stable on "+stable.Digest.String()) }) {
		t.Errorf("restored = %q; want tag app:stable named", report.Restored)
	}
	if len(report.Lost) != 0 || report.Deleted != 0 || len(report.Restored) != 3 {
		t.Errorf("report %+v; want nothing deleted, stable and both suspects restored, nothing lost", report)
	}
	mustExist(t, reg, "app", true, planned.Digest)
}

// An index pushed after the plan over a planned image, in the window
// before its DELETE, breaks that index: verification restores the child
// from the journal, so the index is whole again.
func TestApplyRestoresAChildAnIndexStartedUsing(t *testing.T) {
	reg := testregistry.Start(t)
	child, err := reg.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL})
	batch := planPolicy(t, c, "app", "^pr-")
	var index v1.Hash
	onFirstDeleteOf(proxy, child.Digest.String(), func() {
		if index, err = reg.PushIndexOf("app", []v1.Hash{child.Digest}, "release"); err != nil {
			t.Error(err)
		}
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	if err != nil {
		t.Fatal(err)
	}
	mustExist(t, reg, "app", true, index, child.Digest)
	if len(report.Restored) != 1 || !strings.Contains(report.Restored[0], child.Digest.String()) || report.Deleted != 0 {
		t.Errorf("report %+v; want the child restored, and not counted as deleted", report)
	}
}

// The whole view is read once, whatever it takes: behind a slow registry
// (each read 800ms, one at a time: 3.2s for the view) the apply finishes.
// Before, every DELETE relied on a view younger than 3s, and this failed.
func TestApplyFinishesWhenViewsAreSlowToRead(t *testing.T) {
	reg := testregistry.Start(t)
	var planned []v1.Hash
	for _, tag := range []string{"pr-1", "pr-2", "pr-3", "latest"} {
		img, err := reg.PushImage("app", time.Time{}, tag)
		if err != nil {
			t.Fatal(err)
		}
		planned = append(planned, img.Digest)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
	batch := planPolicy(t, c, "app", "^pr-")
	proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodHead || r.Method == http.MethodGet {
			time.Sleep(800 * time.Millisecond)
		}
		return false
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	if err != nil || report.Deleted != 3 || len(report.Finished) != 1 {
		t.Fatalf("report %+v, err %v; want 3 deleted, app finished", report, err)
	}
	mustExist(t, reg, "app", false, planned[:3]...)
	mustExist(t, reg, "app", true, planned[3])
}

// The subject goes first, then its referrers: a failure in between leaves
// a referrer without a subject, never a kept image without its signature;
// the next plan deletes that referrer, naming its subject.
func TestApplyDeletesTheSubjectBeforeItsReferrers(t *testing.T) {
	reg := testregistry.Start(t)
	img, err := reg.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	sig, err := reg.PushReferrer("app", img.Digest, "sig")
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 1})
	batch := planPolicy(t, c, "app", "^pr-")
	var order []string
	var refused atomic.Bool
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodDelete {
			return false
		}
		digest := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		order = append(order, digest)
		if digest == sig.String() {
			refused.Store(true)
			w.WriteHeader(http.StatusForbidden)
			return true
		}
		return false
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	if err == nil || !refused.Load() {
		t.Fatalf("the referrer's deletion was not refused: %v", err)
	}
	if len(order) != 2 || order[0] != img.Digest.String() {
		t.Fatalf("DELETE order %v; want the subject %s first", order, img.Digest)
	}
	if !strings.Contains(report.Summary(), "1 manifest(s) deleted") || !strings.Contains(report.Summary(), "not finished: app") {
		t.Errorf("summary %q does not say what was done", report.Summary())
	}
	proxy.setFault(nil)
	next := planPolicy(t, newClient(t, Config{URL: reg.URL}), "app", "^pr-")
	if len(next.Manifests) != 1 || next.Manifests[0].Digest != sig.String() {
		t.Fatalf("next plan %+v; want the orphaned signature %s", next.Manifests, sig)
	}
	plan, err := c.DecideRetention(context.Background(), retention.Selection{Include: []*regexp.Regexp{regexp.MustCompile("^app$")}},
		retention.Policy{Delete: []retention.DeleteRule{{}}, DeleteReferrers: true}, time.Now())
	decisions := plan.Decisions
	if err != nil || len(decisions) != 1 || !strings.Contains(decisions[0].Reason, img.Digest.String()+", which no longer exists") {
		t.Fatalf("decisions %+v (%v); want the orphan's reason to name its subject", decisions, err)
	}
}

// An explicit deletion plans which tagged manifests it would break: an
// index listing the digest and an image naming it as its subject.
func TestPlanManifestDeletionNamesWhatItBreaks(t *testing.T) {
	reg := testregistry.Start(t)
	img, err := reg.PushImage("app", time.Time{}, "v1")
	if err != nil {
		t.Fatal(err)
	}
	index, err := reg.PushIndexOf("app", []v1.Hash{img.Digest}, "release")
	if err != nil {
		t.Fatal(err)
	}
	attestation, err := reg.PushUntaggedReferrer("app", img.Digest, "att")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Tag("app", attestation, "provenance"); err != nil {
		t.Fatal(err)
	}
	d, err := newClient(t, Config{URL: reg.URL}).PlanManifestDeletion(context.Background(), "app", "v1", true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{index.String(): {"release"}, attestation.String(): {"provenance"}}
	if len(d.BrokenIndexes) != 2 || !slices.Equal(d.BrokenIndexes[index.String()], want[index.String()]) || !slices.Equal(d.BrokenIndexes[attestation.String()], want[attestation.String()]) {
		t.Fatalf("parents %v, want %v", d.BrokenIndexes, want)
	}
}

// An index whose child no longer exists (broken by a deletion elsewhere)
// does not stop a plan: what does not exist keeps nothing alive.
func TestPlanOverABrokenIndex(t *testing.T) {
	reg := testregistry.Start(t)
	inner, _, err := reg.PushIndex("app", []v1.Platform{{OS: "linux", Architecture: "amd64"}}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushIndexOf("app", []v1.Hash{inner}, "release"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage("app", time.Time{}, "pr-1"); err != nil {
		t.Fatal(err)
	}
	if err := reg.DeleteManifest("app", inner); err != nil {
		t.Fatal(err)
	}
	if b := planPolicy(t, newClient(t, Config{URL: reg.URL}), "app", "^pr-"); len(b.Manifests) != 1 {
		t.Fatalf("planned %+v; want pr-1's deletion", b)
	}
}

// A new tag pushed onto a planned digest while the apply runs keeps it:
// seen before its DELETE, or put back after it.
func TestApplySeesANewTagBeforeEachDelete(t *testing.T) {
	reg, proxy, images := twoImagesBehindProxy(t)
	c := newClient(t, Config{URL: proxy.URL})
	batch := planPolicy(t, c, "app", "^pr-")
	rolledBack := rollBackOnFirstRead(t, reg, proxy, images)
	if _, err := c.ExecuteBatches(context.Background(), []Batch{batch}); err != nil {
		t.Fatal(err)
	}
	mustExist(t, reg, "app", true, *rolledBack)
}

// twoImagesBehindProxy is a registry holding app:pr-1 and app:pr-2 (their
// digests, in that order), and a proxy in front of it.
func twoImagesBehindProxy(t *testing.T) (*testregistry.Registry, *faultProxy, [2]v1.Hash) {
	t.Helper()
	reg := testregistry.Start(t)
	var images [2]v1.Hash
	for i, tag := range []string{"pr-1", "pr-2"} {
		img, err := reg.PushImage("app", time.Time{}, tag)
		if err != nil {
			t.Fatal(err)
		}
		images[i] = img.Digest
	}
	return reg, newFaultProxy(t, reg.URL), images
}

// rollBackOnFirstRead: when the apply first stores its journal (right
// before the chunk's last check and its DELETEs), one of app:pr-1's and
// app:pr-2's images gets the tag "rollback", as a rollback pushed in the
// middle of an apply. It returns where rollback went, once it did.
func rollBackOnFirstRead(t *testing.T, reg *testregistry.Registry, proxy *faultProxy, images [2]v1.Hash) *v1.Hash {
	t.Helper()
	var once sync.Once
	var rolledBack v1.Hash
	proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/"+JournalRepository+"/") {
			once.Do(func() {
				rolledBack = images[1]
				if err := reg.Tag("app", images[1], "rollback"); err != nil {
					t.Error(err)
				}
			})
		}
		return false
	})
	return &rolledBack
}

// Repositories applied at once share the client's apply slots, also
// across calls (for_each policies apply in parallel): with one slot, one
// repository's requests all come before the other's.
func TestApplySlotsAreSharedAcrossCalls(t *testing.T) {
	reg := testregistry.Start(t)
	for _, repo := range []string{"a", "b"} {
		for _, tag := range []string{"pr-1", "pr-2", "latest"} {
			if _, err := reg.PushImage(repo, time.Time{}, tag); err != nil {
				t.Fatal(err)
			}
		}
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
	batches := []Batch{planPolicy(t, c, "a", "^pr-"), planPolicy(t, c, "b", "^pr-")}
	var mu sync.Mutex
	var order []string // the repository of each request, in order
	proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		if repo, _, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/"); ok && repo+"/" != retention.ProviderNamespace { // the journal aside
			mu.Lock()
			if len(order) == 0 || order[len(order)-1] != repo {
				order = append(order, repo)
			}
			mu.Unlock()
		}
		time.Sleep(5 * time.Millisecond) // let the other call ask in between
		return false
	})
	var wg sync.WaitGroup
	for _, b := range batches {
		wg.Go(func() {
			if _, err := c.ExecuteBatches(context.Background(), []Batch{b}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(order) != 2 {
		t.Errorf("the repositories' requests interleaved: %q", order)
	}
}

// A tag the registry lists but cannot resolve (its manifest deleted while
// the tag was being pushed onto it: the DELETE's sweep of tags missed it)
// is no new tag: before each DELETE the listing is compared with the
// view's, which listed it too. Compared with the resolved tags alone, the
// apply re-read the repository for ever.
func TestApplyGoesOnPastADanglingTag(t *testing.T) {
	reg := testregistry.Start(t)
	planned, err := reg.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage("app", time.Time{}, "dangling"); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/manifests/dangling") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound) // as distribution answers for a tag whose revision is gone
		_, _ = w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`))
		return true
	})
	c := newClient(t, Config{URL: proxy.URL})
	batch := planPolicy(t, c, "app", "^pr-")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if report, err := c.ExecuteBatches(ctx, []Batch{batch}); err != nil || report.Deleted != 1 {
		t.Fatalf("report %+v, err %v; want pr-1 deleted", report, err)
	}
	mustExist(t, reg, "app", false, planned.Digest)
}

// The plan is an upper bound, never a licence: tags a and b under "keep
// the newest one by name", b deleted after the plan; the apply evaluates
// the policy against the registry again, which now keeps a, and deletes
// nothing (a replayed plan deleted a).
func TestApplyDeletesOnlyWhatThePolicyStillDeletes(t *testing.T) {
	reg := testregistry.Start(t)
	a, err := reg.PushImage("app", time.Time{}, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := reg.PushImage("app", time.Time{}, "b")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	policy := retention.Policy{Keep: []retention.KeepRule{{Newest: 1, OrderBy: retention.Order("name")}}, Delete: []retention.DeleteRule{{}}}
	batch := batchOf("app", decideRepository(t, c, "app", policy).Decisions)
	if len(batch.Manifests) != 1 || batch.Manifests[0].Digest != a.Digest.String() {
		t.Fatalf("planned %+v, want a's digest", batch.Manifests)
	}
	if err := c.DeleteManifest(context.Background(), "app", b.Digest.String()); err != nil {
		t.Fatal(err)
	}
	batch.Policy, batch.Now = &policy, time.Now()
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	if err != nil {
		t.Fatal(err)
	}
	mustExist(t, reg, "app", true, a.Digest)
	skippedLike(t, report, `kept `+a.Digest.String()+`: the policy, evaluated against the registry at apply time, keeps it`)
	if report.Deleted != 0 {
		t.Errorf("report %+v, want nothing deleted", report)
	}
}

// The registry goes away right after a chunk's DELETEs, just as a kept tag
// was moved onto a deleted manifest: verification cannot read, so the
// apply cannot put the tag's image back itself. It fails naming its apply
// id, and registry_restore by that id (from another machine) brings the
// image back: the error is the way to repair, never a silent loss.
func TestApplyThatCannotVerifyNamesHowToRestore(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		planned, err := reg.PushImage("app", time.Time{}, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage("app", time.Time{}, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 2})
		batch := planPolicy(t, c, "app", "^pr-")
		var away atomic.Bool
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if away.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, planned.Digest.String()) {
				if err := reg.Tag("app", planned.Digest, "stable"); err != nil {
					t.Error(err)
				}
				away.Store(true) // after this DELETE reaches the registry
			}
			return false
		})
		_, err = c.ExecuteBatches(context.Background(), []Batch{batch})
		if err == nil || !strings.Contains(err.Error(), "registry_restore with apply_id = ") {
			t.Fatalf("err = %v; want one naming registry_restore's apply_id", err)
		}
		id := regexp.MustCompile(`apply_id = "([^"]+)"`).FindStringSubmatch(err.Error())[1]
		mustExist(t, reg, "app", false, planned.Digest)
		away.Store(false)
		restore(t, otherMachine(t, reg), RestoreSelection{ApplyID: id})
		mustExist(t, reg, "app", true, planned.Digest)
	})
}
