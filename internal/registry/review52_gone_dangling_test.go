package registry

// Regression test of review 52 (fixed: lastCheck drops a dangling tag gone from its listing, so verify does not take it for the chunk's); failed before the fix.

// Review 52: "a once-dangling tag gone during a chunk brings the chunk's
// deletions back untagged" (239ab13, repair.go verify's goneDangling).
//
// TestReview52DanglingTagGoneBeforeTheApplyUndoesItsFirstChunk
// (reported): a repository holds a dangling tag "d" (listed, resolving to
// nothing) when it is read; "d" is removed (by a cleanup, another client)
// before the apply's first chunk, and the apply's own listing right before
// the chunk (lastCheck) no longer names it. lastCheck drops from the view
// the resolved tags its listing lacks, but never the dangling ones
// (s.Unresolved): its reused-view branch (the apply reuses the planning
// pass's read, view.go readView / c.recent, as terraform apply's second
// planning pass leaves it) even resolves each of them again, whether
// listed or not, and marks "d" dangling again on its 404; its other
// branch leaves s.Unresolved as it was. After the chunk, verify sees "d"
// in s.Unresolved and not on the list: "went during the apply: removed,
// or pushed again onto a manifest this apply deleted", and
// restoreSuspects puts back every manifest the chunk deleted, untagged.
// The tag was gone before any DELETE was sent: nothing this apply did can
// have taken it. The planned deletion is undone (Report.Deleted 0, "put
// back untagged ... retag it"), and the image stays for good as an
// untagged manifest no policy deletes. Not a loss; a false repair and a
// false warning, for a tag removed at any time before a chunk (in a large
// repository, between one chunk's verification and the next chunk's last
// check). Subtests: "planning-read" (removed between the plan's read and
// the apply) and "own-read" (removed after the apply's own read, as its
// journal is stored). Cause: execute.go lastCheck keeps s.Unresolved tags
// its listing no longer names (and its reused branch re-adds them);
// repair.go verify then takes them for tags gone during the chunk.
//
// Reproduce: REVIEW52_UNSKIP=1 go test -count=1 -run TestReview52DanglingTagGoneBeforeTheApplyUndoesItsFirstChunk ./internal/registry/
// (distribution v3 in process and 2.8).

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview52DanglingTagGoneBeforeTheApplyUndoesItsFirstChunk(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		for _, read := range []string{"planning-read", "own-read"} {
			t.Run(read, func(t *testing.T) {
				repo := "review52/gone-dangling-" + read
				created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
				x, err := reg.PushImage(repo, created, "pr-1")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := reg.PushImage(repo, created, "stable"); err != nil {
					t.Fatal(err)
				}
				if err := reg.DanglingTag(repo, "d"); err != nil {
					t.Fatal(err)
				}
				removeD := func() {
					if err := os.RemoveAll(filepath.Join(reg.RootDir, "docker/registry/v2/repositories", repo, "_manifests/tags/d")); err != nil {
						t.Error(err)
					}
				}
				proxy := newFaultProxy(t, reg.URL)
				c := newClient(t, Config{URL: proxy.URL})
				batch := planBatch(t, c, repo, deletePR()) // the planning pass's read, which the apply reuses
				if len(batch.Manifests) != 1 {
					t.Fatalf("planned %+v; want pr-1's image", batch.Manifests)
				}
				if read == "planning-read" {
					removeD() // after the plan read the repository, before the apply
				} else {
					c = newClient(t, Config{URL: proxy.URL}) // the apply reads the repository itself
					var once sync.Once
					proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
						if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/"+JournalRepository+"/manifests/") {
							once.Do(removeD) // after the apply read the repository, before its last check
						}
						return false
					})
				}
				report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
				t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Deleted)
				if err != nil {
					t.Fatal(err)
				}
				if listed, err := reg.Tags(repo); err != nil || slices.Contains(listed, "d") {
					t.Fatalf("d still listed: %q (%v)", listed, err)
				}
				exists, err := reg.ManifestExists(repo, x.Digest)
				if err != nil {
					t.Fatal(err)
				}
				if exists || report.Deleted != 1 {
					t.Fatalf("pr-1's image %s exists after the apply (deleted %d): put back for a tag that was gone before the chunk", x.Digest, report.Deleted)
				}
			})
		}
	})
}
