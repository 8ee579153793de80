package registry

// Regression test of review 62 (fixed: the journal file's warning says the last line of a digest stands); failed before the fix.
//
// Review 62: the journal file's instructions (whereKept) do not say that a
// later line of a digest stands over an earlier one, so read as written
// they put back a tag the apply never took (review 60's case, by hand).
//
// What is wrong: since review 60's fix, record (journal.go) journals an
// entry again when the chunk's last check changed its tags (a tag removed
// by its owner before the DELETE), and ReadJournal keeps the last entry of
// a manifest. The journal file in cache_dir gets both lines. Where the
// registry refused the journal, whereKept tells the user to push back
// "each body by digest, then its tags; a line with "kept": true withdraws
// the earlier lines of its digest": nothing says the earlier line, with
// the stale tags, is superseded.
//
// Why it matters: the file is the only journal left when the registry
// refuses it; following the warning's instructions points pr-2 back at the
// image, a tag its owner removed on purpose and the apply never took.
//
// Suggested fix: before journaling an entry again, write a withdrawing
// line ("kept": true) of the earlier one, in the file and in the registry,
// so that the documented reading holds; or say in whereKept (and the
// docs) that the last line of a digest stands.
//
// Reproduce: go test -count=1 -run TestReview62JournalFileAdvicePutsBackAStaleTag ./internal/registry
// (distribution v3 in process, and 2.8).

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview62JournalFileAdvicePutsBackAStaleTag(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review62/file-advice"
		ctx := context.Background()
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		planned, err := reg.PushImage(repo, created, "pr-1", "pr-2")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, CacheDir: t.TempDir()})
		owner := newClient(t, Config{URL: reg.URL})
		batch := planBatch(t, c, repo, deletePR())
		if len(batch.Manifests) != 1 || !slices.Equal(batch.Manifests[0].Tags, []string{"pr-1", "pr-2"}) {
			t.Fatalf("planned %+v; want pr-1's and pr-2's image", batch.Manifests)
		}
		// The registry refuses the journal (403 on its repository); pr-2's
		// owner removes it as the apply tries to store it, before the
		// chunk's last check.
		var once sync.Once
		var removed atomic.Bool
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/v2/"+JournalRepository+"/") {
				return false
			}
			once.Do(func() {
				if err := owner.DeleteTag(context.Background(), repo, "pr-2"); err != nil {
					t.Errorf("removing pr-2: %v", err)
					return
				}
				removed.Store(true)
			})
			deny60(w)
			return true
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nskipped %q\nwarnings %q\ndeleted %d", err, report.Skipped, report.Warnings, report.Deleted)
		proxy.setFault(nil)
		if err != nil || !removed.Load() {
			t.Fatalf("the scenario did not run: pr-2 removed %v, apply: %v", removed.Load(), err)
		}
		mustExist(t, reg, repo, false, planned.Digest)
		warning := strings.Join(report.Warnings, "\n")
		m := regexp.MustCompile(`journaled only in (\S+\.jsonl)`).FindStringSubmatch(warning)
		if m == nil {
			t.Fatalf("no warning names the journal file: %q", report.Warnings)
		}
		// The file, read as the warning says.
		lastStands := strings.Contains(warning, "last line") || strings.Contains(warning, "later line")
		f, err := os.Open(m[1])
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var lines []JournalEntry
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var e JournalEntry
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("journal file line %q: %v", sc.Text(), err)
			}
			if e.Kept || lastStands {
				lines = slices.DeleteFunc(lines, func(o JournalEntry) bool { return o.Digest == e.Digest })
			}
			if !e.Kept {
				lines = append(lines, e)
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		var tags []string
		for _, e := range lines {
			if e.Digest == planned.Digest.String() {
				tags = append(tags, e.Tags...)
			}
		}
		if slices.Contains(tags, "pr-2") {
			t.Errorf("following the warning (%q), the journal file points pr-2 back at %s (tags %q from its lines): pr-2 was removed by its owner before the DELETE, "+
				"which took pr-1 only", m[0], planned.Digest, tags)
		}
	})
}
