package registry

// Review 52: "a once-dangling tag gone during a chunk brings the chunk's
// deletions back untagged" (239ab13, repair.go verify's goneDangling).
//
// TestReview52DanglingTagGoneBeforeTheApplyUndoesItsFirstChunk
// (reported): a repository holds a dangling tag "d" (listed, resolving to
// nothing) when the plan reads it; "d" is removed (by a cleanup, another
// client) after the plan read the repository and before the apply's first
// chunk. The apply reuses the planning pass's read (view.go, readView:
// c.recent, as terraform apply's second planning pass leaves it), and
// lastCheck's reused-view branch resolves every tag of s.Unresolved again
// whether or not the fresh listing still names it: "d" answers 404, so
// resolveBefore marks it dangling again though it is no longer listed.
// After the chunk, verify sees "d" in s.Unresolved and not on the list:
// "went during the apply: removed, or pushed again onto a manifest this
// apply deleted", and restoreSuspects puts back every manifest the chunk
// deleted, untagged. The tag was gone before any DELETE was sent, which
// the apply's own listing before the chunk showed: nothing this apply did
// can have taken it. The planned deletion is undone (Report.Deleted 0,
// "put back untagged ... retag it"), and the image stays for good as an
// untagged manifest no policy deletes. Not a loss; a false repair and a
// false warning. Cause: execute.go lastCheck (reused branch) re-adds to
// s.Unresolved tags the listing no longer names; repair.go verify then
// takes them for tags gone during the chunk.
//
// Reproduce: REVIEW52_UNSKIP=1 go test -count=1 -run TestReview52DanglingTagGoneBeforeTheApplyUndoesItsFirstChunk ./internal/registry/
// (distribution v3 in process and 2.8).

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview52DanglingTagGoneBeforeTheApplyUndoesItsFirstChunk(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review52/gone-dangling"
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
		c := newClient(t, Config{URL: reg.URL})
		batch := planBatch(t, c, repo, deletePR()) // the planning pass's read, which the apply reuses
		if len(batch.Manifests) != 1 {
			t.Fatalf("planned %+v; want pr-1's image", batch.Manifests)
		}
		// "d" is removed after the plan read the repository, before the apply.
		if err := os.RemoveAll(filepath.Join(reg.RootDir, "docker/registry/v2/repositories", repo, "_manifests/tags/d")); err != nil {
			t.Fatal(err)
		}
		if listed, err := reg.Tags(repo); err != nil || slices.Contains(listed, "d") {
			t.Fatalf("d still listed: %q (%v)", listed, err)
		}
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		t.Logf("apply: %v\nrestored %q\nlost %q\nwarnings %q\ndeleted %d", err, report.Restored, report.Lost, report.Warnings, report.Deleted)
		if err != nil {
			t.Fatal(err)
		}
		exists, err := reg.ManifestExists(repo, x.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if exists || report.Deleted != 1 {
			reported52(t, "a dangling tag removed before the apply (reused planning read) is re-marked dangling by lastCheck, and verify then puts back the chunk's deletions untagged: the planned deletion is undone, with a false warning")
			t.Fatalf("pr-1's image %s exists after the apply (deleted %d): put back for a tag that was gone before the chunk", x.Digest, report.Deleted)
		}
	})
}
