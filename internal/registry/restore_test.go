package registry

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Restoring what an apply deleted, from the journal it stored in the
// registry, read by another client with another cache_dir (as CI plans
// and applies on different machines).

// overDeleted is a repository a too-wide policy emptied but for "stable".
type overDeleted struct {
	first, second testregistry.Image // v1; v2 and latest
	stable        testregistry.Image
	sig           v1.Hash // a signature of v1
	index         v1.Hash // "multi", over children
	children      []v1.Hash
	tags          []string // before the apply
	applyID       string
}

func overDelete(t *testing.T, reg *testregistry.Registry) overDeleted {
	t.Helper()
	var o overDeleted
	var err error
	o.first, _ = reg.PushImage("app", time.Time{}, "v1")
	o.second, _ = reg.PushImage("app", time.Time{}, "v2", "latest")
	o.stable, _ = reg.PushImage("app", time.Time{}, "stable")
	if o.sig, err = reg.PushReferrer("app", o.first.Digest, "sig"); err != nil {
		t.Fatal(err)
	}
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	if o.index, o.children, err = reg.PushIndex("app", platforms, time.Time{}, "multi"); err != nil {
		t.Fatal(err)
	}
	if o.tags, err = reg.Tags("app"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL, CacheDir: t.TempDir()})
	report, err := c.ExecuteBatches(context.Background(), []Batch{planPolicy(t, c, "app", "^(v|latest|multi)")})
	if err != nil || len(report.Lost) > 0 {
		t.Fatalf("the policy's apply: report %+v, err %v", report, err)
	}
	mustExist(t, reg, "app", false, o.first.Digest, o.second.Digest, o.sig, o.index, o.children[0], o.children[1])
	records, err := otherMachine(t, reg).ReadJournal(context.Background(), JournalFilter{})
	if err != nil || len(records) != 6 {
		t.Fatalf("journal: %d records, err %v; want the 6 deleted manifests", len(records), err)
	}
	o.applyID = records[0].ApplyID
	return o
}

// otherMachine is a client with a cache_dir of its own.
func otherMachine(t *testing.T, reg *testregistry.Registry) *Client {
	return newClient(t, Config{URL: reg.URL, CacheDir: t.TempDir()})
}

func restore(t *testing.T, c *Client, sel RestoreSelection) Restore {
	t.Helper()
	planned, err := c.PlanRestore(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ExecuteRestore(context.Background(), planned, func(string) {}); err != nil {
		t.Fatal(err)
	}
	return planned
}

func mustPull(t *testing.T, reg *testregistry.Registry, repo string, refs ...string) {
	t.Helper()
	for _, ref := range refs {
		if err := reg.Pull(repo, ref); err != nil {
			t.Error(err)
		}
	}
}

func sigTag(subject v1.Hash) string { return strings.Replace(subject.String(), ":", "-", 1) + ".sig" }

func TestRestoreByTag(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		o := overDelete(t, reg)
		c := otherMachine(t, reg)
		planned := restore(t, c, RestoreSelection{Repository: "app", Tags: []string{"v1"}})
		if len(planned.Images) != 2 || planned.Images[0].Digest != o.first.Digest.String() || !slices.Equal(planned.Images[0].Tags, []string{"v1"}) {
			t.Errorf("planned %+v; want v1's image, then its signature", planned.Images)
		}
		mustPull(t, reg, "app", "v1", sigTag(o.first.Digest))
		if got := resolvesTo(t, reg, "app", sigTag(o.first.Digest)); got != o.sig.String() {
			t.Errorf("the signature tag resolves to %s; want %s", got, o.sig)
		}
		mustExist(t, reg, "app", false, o.second.Digest, o.index) // only what was asked for
	})
}

func TestRestoreLeavesAMovedTagUnlessAsked(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		o := overDelete(t, reg)
		moved, _ := reg.PushImage("app", time.Time{}, "latest") // pushed since the deletion
		c := otherMachine(t, reg)
		planned := restore(t, c, RestoreSelection{Digests: []string{o.second.Digest.String()}})
		if img := planned.Images[0]; !slices.Equal(img.Tags, []string{"v2"}) || !slices.Equal(img.MovedTags, []string{"latest"}) {
			t.Errorf("planned tags %q, moved %q; want v2 put back and latest left", img.Tags, img.MovedTags)
		}
		mustPull(t, reg, "app", "v2", "latest")
		if got := resolvesTo(t, reg, "app", "latest"); got != moved.Digest.String() {
			t.Errorf("latest resolves to %s; want it left on %s", got, moved.Digest)
		}
		planned = restore(t, c, RestoreSelection{Digests: []string{o.second.Digest.String()}, OverwriteMovedTags: true})
		if img := planned.Images[0]; !img.Present || !slices.Equal(img.Tags, []string{"latest"}) {
			t.Errorf("planned %+v; want the image present and latest moved back", img)
		}
		if got := resolvesTo(t, reg, "app", "latest"); got != o.second.Digest.String() {
			t.Errorf("latest resolves to %s; want it moved back to %s", got, o.second.Digest)
		}
	})
}

func TestRestoreEverythingOneApplyDeleted(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		o := overDelete(t, reg)
		c := otherMachine(t, reg)
		planned := restore(t, c, RestoreSelection{ApplyID: o.applyID})
		at := func(d v1.Hash) int {
			return slices.IndexFunc(planned.Images, func(img RestoreImage) bool { return img.Digest == d.String() })
		}
		if at(o.index) < at(o.children[0]) || at(o.index) < at(o.children[1]) || at(o.sig) < at(o.first.Digest) {
			t.Errorf("restore order %+v: an index before a child, or a signature before its subject", planned.Images)
		}
		mustPull(t, reg, "app", "v1", "v2", "latest", "multi", "stable", sigTag(o.first.Digest))
		// Exactly the tags there were: the signature's PUT writes no
		// referrers fallback index (sha256-<subject>) beside it.
		if tags, err := reg.Tags("app"); err != nil || !slices.Equal(tags, o.tags) {
			t.Errorf("tags %q (err %v); want those before the apply, %q", tags, err, o.tags)
		}
		statuses, err := c.JournalStatuses(context.Background(), mustRead(t, c))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range statuses {
			if !s.Present || s.Restorable() || s.Expired() {
				t.Errorf("status %+v after the restore; want present", s)
			}
		}
	})
}

func mustRead(t *testing.T, c *Client) []JournalRecord {
	t.Helper()
	records, err := c.ReadJournal(context.Background(), JournalFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return records
}

// A restore after garbage collection freed a blob fails, naming it, and
// restores nothing, also before the registry is restarted (when its blob
// descriptor cache still answers HEAD for the blob); the journal says the
// deletion expired.
func TestRestoreOfFreedBlobsNamesThem(t *testing.T) {
	onBothRestartable(t, func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry) {
		root := t.TempDir()
		reg := start(testregistry.WithRootDir(root))
		o := overDelete(t, reg)
		if err := reg.RemoveBlobFile(o.first.ConfigDigest); err != nil {
			t.Fatal(err)
		}
		c := otherMachine(t, reg)
		planned, err := c.PlanRestore(context.Background(), RestoreSelection{Repository: "app", Tags: []string{"v1", "v2"}})
		if err != nil {
			t.Fatal(err)
		}
		err = planned.ExpiredError()
		if err == nil || !strings.Contains(err.Error(), "blob "+o.first.ConfigDigest.String()) || strings.Contains(err.Error(), o.second.Digest.String()) {
			t.Fatalf("ExpiredError: %v; want it to name v1's config blob, and v2 not at all", err)
		}
		if err := c.ExecuteRestore(context.Background(), planned, func(string) {}); err == nil {
			t.Fatal("the restore ran")
		}
		mustExist(t, reg, "app", false, o.first.Digest, o.second.Digest)
		if err := reg.Close(); err != nil { // a registry is restarted after garbage collection
			t.Fatal(err)
		}
		reg = start(testregistry.WithRootDir(root))
		c = otherMachine(t, reg)
		records := mustRead(t, c)
		statuses, err := c.JournalStatuses(context.Background(), records)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range records {
			if expired := r.Digest == o.first.Digest.String(); statuses[i].Expired() != expired || statuses[i].Restorable() == expired {
				t.Errorf("%s: %+v; want expired %v", r.Digest, statuses[i], expired)
			}
		}
	})
}

// onBothRestartable runs test on distribution v3 and 2.8, with a start
// that a test may call again to restart the registry on its storage.
func onBothRestartable(t *testing.T, test func(t *testing.T, start func(...testregistry.Option) *testregistry.Registry)) {
	for _, r := range []struct {
		name  string
		start func(testing.TB, ...testregistry.Option) *testregistry.Registry
	}{{"distribution-v3", testregistry.Start}, {"distribution-2.8", testregistry.StartV28}} {
		t.Run(r.name, func(t *testing.T) {
			test(t, func(opts ...testregistry.Option) *testregistry.Registry { return r.start(t, opts...) })
		})
	}
}

func TestParseJournalChunkRefusesADamagedEntry(t *testing.T) {
	body := []byte(`{"schemaVersion":2}`)
	digest, _, _ := v1.SHA256(bytes.NewReader(body))
	good := JournalEntry{Repository: "app", Digest: digest.String(), MediaType: "application/vnd.oci.image.manifest.v1+json", Body: body}
	entries, err := ParseJournalChunk(journalLines([]JournalEntry{good}))
	if err != nil || len(entries) != 1 {
		t.Fatalf("a good chunk: %v, %v", entries, err)
	}
	bad := good
	bad.Body = []byte(`{"schemaVersion":3}`)
	if _, err := ParseJournalChunk(journalLines([]JournalEntry{good, bad})); err == nil || !strings.Contains(err.Error(), "entry 2") {
		t.Errorf("a damaged entry: %v; want an error naming entry 2", err)
	}
}

func TestApplyIDOf(t *testing.T) {
	for tag, want := range map[string]string{
		"j-20261206T101010Z-0123456789ab-001": "20261206T101010Z-0123456789ab",
		"j-20261206T101010Z-0123456789ab":     "",
		"latest":                              "",
		"j-001":                               "",
	} {
		if got, _ := ApplyIDOf(tag); got != want {
			t.Errorf("ApplyIDOf(%q) = %q, want %q", tag, got, want)
		}
	}
}

// A tag pushed onto another image between the plan and the restore stays
// there: the restore puts back the rest and fails, naming it.
func TestRestoreLeavesATagMovedSinceThePlan(t *testing.T) {
	reg := testregistry.Start(t)
	o := overDelete(t, reg)
	c := otherMachine(t, reg)
	planned, err := c.PlanRestore(context.Background(), RestoreSelection{Digests: []string{o.second.Digest.String()}})
	if err != nil {
		t.Fatal(err)
	}
	moved, _ := reg.PushImage("app", time.Time{}, "latest")
	err = c.ExecuteRestore(context.Background(), planned, func(string) {})
	if err == nil || !strings.Contains(err.Error(), "tag app:latest was pushed onto "+moved.Digest.String()) {
		t.Errorf("restore: %v; want it to name latest, pushed since the plan", err)
	}
	if got := resolvesTo(t, reg, "app", "latest"); got != moved.Digest.String() {
		t.Errorf("latest resolves to %s; want it left on %s", got, moved.Digest)
	}
	mustPull(t, reg, "app", "v2")
}

// A selection the journal does not hold fails, saying where to look.
func TestRestoreOfWhatWasNotDeletedIsRefused(t *testing.T) {
	reg := testregistry.Start(t)
	overDelete(t, reg)
	_, err := otherMachine(t, reg).PlanRestore(context.Background(), RestoreSelection{Repository: "app", Tags: []string{"v1", "stable"}})
	if err == nil || !strings.Contains(err.Error(), `no deletion of stable in "app"`) || !strings.Contains(err.Error(), "registry_journal") {
		t.Errorf("PlanRestore: %v; want it to name stable and registry_journal", err)
	}
}

// One apply over several repositories is one apply in the journal: every
// manifest it deleted carries the same apply id (what registry_restore's
// apply_id restores), and no repository's chunk overwrites another's.
func TestApplyOverSeveralRepositoriesJournalsUnderOneApplyID(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		repos := []string{"one/app", "two/app", "three/app"}
		c := newClient(t, Config{URL: reg.URL})
		var batches []Batch
		for _, repo := range repos {
			for _, tag := range []string{"pr-1", "pr-2", "stable"} {
				if _, err := reg.PushImage(repo, time.Time{}, tag); err != nil {
					t.Fatal(err)
				}
			}
			batches = append(batches, planPolicy(t, c, repo, "^pr-"))
		}
		if report, err := c.ExecuteBatches(context.Background(), batches); err != nil || report.Deleted != 6 {
			t.Fatalf("report %+v, err %v; want 6 deleted", report, err)
		}
		records, err := otherMachine(t, reg).ReadJournal(context.Background(), JournalFilter{})
		if err != nil || len(records) != 6 {
			t.Fatalf("journal: %d records, err %v; want the 6 deleted manifests", len(records), err)
		}
		for _, r := range records {
			if r.ApplyID != records[0].ApplyID {
				t.Errorf("%s in %s journaled under apply %s, %s under %s; want one apply id", r.Digest, r.Repository, r.ApplyID, records[0].Digest, records[0].ApplyID)
			}
		}
	})
}
