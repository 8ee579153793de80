package registry

// Regression test of review 59 (fixed: withdrawKept clears the time and tags of what it keeps for a later record, which stamps them anew); failed before the fix.
//
// Review 59: a manifest journaled, withdrawn (kept by the last check),
// then deleted by a later chunk is journaled again with its first entry's
// time: registry_journal's deleted_at is earlier than the deletion.
//
// What is wrong: withdrawKept (journal.go) puts the original entry back
// in j.entries ("what to journal again"), and record, which journals it
// again before the later DELETE, keeps an entry's At when it is set (it
// only fills in a zero At, as for a body read to put a tag back). The
// entry that stands carries the time of the first record, before the
// last check that kept the manifest, not the time of the read before its
// DELETE.
//
// Consequence: registry_journal's deleted_at names a moment when the
// manifest was still there (kept by a tag), and garbage collection's
// keep_deleted_within (internal/gc/grace.go, e.At before cutoff; chunks
// pruned by their newest At) counts the grace period from that earlier
// time: on a long apply, the blobs undo needs may be collected, and the
// entry's chunk pruned, before the promised window after the deletion.
//
// Suggested fix: when record journals again an entry withdrawKept put
// back, give it the time of this record (and the tags the view shows now),
// e.g. by clearing At and Tags of the originals withdrawKept keeps.
//
// Reproduce: go test -count=1 -run TestReview59JournalTimesAWithdrawnManifestDeletedLaterAtItsFirstRecord ./internal/registry/
// (distribution v3 in process and 2.8: REGISTRY_V28_REQUIRED=1).

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview59JournalTimesAWithdrawnManifestDeletedLaterAtItsFirstRecord(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review59/stale"
		ctx := context.Background()
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		x, children, err := reg.PushIndex(repo, []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		y, err := reg.PushIndexOf(repo, children, "pr-2")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.SeedTags(repo, 15, func(i int) string { return fmt.Sprintf("pr-f%02d", i) }, func(i int) time.Time { return created.Add(time.Duration(i) * time.Hour) }); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1}) // chunks of 16 items
		direct := newClient(t, Config{URL: reg.URL})
		batch := planBatch(t, c, repo, deletePR())
		// pr-1's index in the first chunk, pr-2's (sharing its children) in the second.
		slices.SortStableFunc(batch.Manifests, func(a, b ManifestDeletion) int {
			rank := func(m ManifestDeletion) int {
				switch m.Digest {
				case x.String():
					return 0
				case y.String():
					return 2
				}
				return 1
			}
			return rank(a) - rank(b)
		})
		if n := len(batch.Manifests); n != 17 || batch.Manifests[16].Digest != y.String() || !slices.Contains(batch.Manifests[16].Children, children[0].String()) {
			t.Fatalf("planned %d manifests (last %+v); want 17, pr-2's index last, with its children", n, batch.Manifests[n-1])
		}
		child := children[0].String()
		// The first chunk's journal stored: "hold" is pushed onto the child,
		// which the last check keeps. The second chunk's stored: "hold" is
		// removed again, and the child goes with pr-2's index.
		var puts atomic.Int32
		var hold, release sync.Once
		var released time.Time
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/v2/"+JournalRepository+"/manifests/") {
				return false
			}
			switch n := puts.Add(1); {
			case n == 1:
				hold.Do(func() {
					if err := reg.Tag(repo, children[0], "hold"); err != nil {
						t.Error(err)
					}
				})
			case n >= 3:
				release.Do(func() {
					released = time.Now().UTC()
					if err := direct.DeleteTag(ctx, repo, "hold"); err != nil {
						t.Error(err)
					}
				})
			}
			return false
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nskipped %q\nrestored %q\nwarnings %q\nlost %q\ndeleted %d", err, report.Skipped, report.Restored, report.Warnings, report.Lost, report.Deleted)
		if err != nil {
			t.Fatal(err)
		}
		if released.IsZero() {
			t.Fatal("hold was never removed: the scenario did not run")
		}
		if ok, _ := reg.ManifestExists(repo, children[0]); ok {
			t.Fatalf("the child %s stayed; want it deleted with pr-2's index after hold was removed", child)
		}
		records, err := c.ReadJournal(ctx, JournalFilter{Repository: repo})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range records {
			if r.Digest != child {
				continue
			}
			found = true
			if r.At.Before(released) {
				t.Errorf("the journal (registry_journal deleted_at) says %s was deleted at %s; it was kept by tag hold until %s, deleted after", child, r.At.Format(time.RFC3339Nano), released.Format(time.RFC3339Nano))
			}
		}
		if !found {
			t.Errorf("the deleted child %s is not in the journal", child)
		}
	})
}
