package registry

// Regression test of review 53 (fixed: an index is put back with, and
// after, its children that an earlier chunk deleted: repair.go
// withDeletedChildren, in tryCandidates, restoreSuspects and
// undoMovedAway); failed before the fix. Review 53: a dangling tag's repair
// (repair.go repairDangling → tryCandidates, 239ab13/2db6ae4) cannot put
// back an index whose child an EARLIER chunk deleted.
//
// TestReview53DanglingIndexChildDeletedInAnEarlierChunk (reported):
// registry_tag_deletion with delete_untagged_manifests removes the tags of
// a multi-arch image I (old-i) and of the platform image C it lists (old-c,
// a tagged child), then deletes the manifests left untagged one at a time,
// in planned order (deletion.go deleteStillUntagged: one item per chunk,
// inOrder; retention.Repository.Untagged orders by digest, each digest once,
// so C's own item comes first when its digest sorts first, and I's item is
// I alone: its child was placed already). So C is deleted by the first
// chunk and I by the second. During the apply someone retags I ("crane tag
// app@<I> rel"); the push's tag link lands as the registry handles the
// apply's DELETE of I (the registry API's window: testregistry's race, as
// in review 50/51), so "rel" is listed and resolves to nothing after I's
// chunk. verify calls repairDangling. Its first round (tryCandidates over
// the chunk's deletions, [I]) PUTs I back: distribution refuses it (v3 and
// 2.8 check that an index's children exist), and the refusal is only
// collected. The second round puts back the earlier chunks' deletions (C),
// resolves "rel" again, but never tries I again: "rel" still resolves to
// nothing, C is queued to be deleted again, and "rel" is reported lost.
// The journal held both bodies: C, then I, repairs it, as the Safety guide
// promises ("the manifests the chunk deleted (then those of earlier
// chunks, if the tag still resolves to nothing) are put back, children
// before their indexes"). Cause: repairDangling runs tryCandidates once
// per candidate set and orders children first only within a set; a
// put-back refused in the first round is not retried once the second
// brought its children back. (A retention policy's index item re-sends its
// children's DELETEs, which puts them in the same chunk: held there.)
// User-visible: the tag "rel", pushed during the apply, and the image it
// names are lost (I stays deleted, C is deleted again), and the apply
// fails with a LostError, though everything needed was in the journal.
//
// Reproduce: REVIEW53_UNSKIP=1 go test -count=1 -run TestReview53DanglingIndexChildDeletedInAnEarlierChunk ./internal/registry/
// (distribution v3 in process and 2.8).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// pushIndexAfter53 pushes, by digest, an OCI index over child whose digest
// sorts after the child's (an annotation varies until it does).
func pushIndexAfter53(t *testing.T, reg *testregistry.Registry, repo string, child v1.Hash) v1.Hash {
	t.Helper()
	r, err := name.NewRepository(reg.Host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(r.Digest(child.String()), reg.RemoteOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	desc.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
	for n := 0; n < 1000; n++ {
		body, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex,
			Manifests: []v1.Descriptor{*desc}, Annotations: map[string]string{"review53": fmt.Sprint(n)}})
		if err != nil {
			t.Fatal(err)
		}
		digest, _, err := v1.SHA256(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if digest.String() <= child.String() {
			continue
		}
		if err := remote.Put(r.Digest(digest.String()), rawManifest{body: body, mediaType: types.OCIImageIndex}, reg.RemoteOptions()...); err != nil {
			t.Fatal(err)
		}
		return digest
	}
	t.Fatal("no index digest found")
	return v1.Hash{}
}

func TestReview53DanglingIndexChildDeletedInAnEarlierChunk(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review53/index-across-chunks"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		child, err := reg.PushImage(repo, created)
		if err != nil {
			t.Fatal(err)
		}
		index := pushIndexAfter53(t, reg, repo, child.Digest)
		if err := reg.Tag(repo, child.Digest, "old-c"); err != nil {
			t.Fatal(err)
		}
		if err := reg.Tag(repo, index, "old-i"); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage(repo, created, "stable"); err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		planned, err := c.PlanTagDeletion(context.Background(), repo, []string{"old-c", "old-i"}, true)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{child.Digest.String(), index.String()}; !slices.Equal(planned.Untagged, want) {
			t.Fatalf("planned untagged %q; want the child, then the index: %q", planned.Untagged, want)
		}
		pushDuringDelete(t, proxy, reg, repo, "rel", index) // retagged as the registry deletes it
		_, err = c.ExecuteTagDeletion(context.Background(), planned)
		t.Logf("apply: %v", err)
		if got := resolvesTo(t, reg, repo, "rel"); got != index.String() {
			listed, _ := reg.Tags(repo)
			t.Fatalf("rel, pushed onto %s during the apply, resolves to %q (listed %q; apply: %v): the index could have been put back after its child",
				index, got, listed, err)
		}
		mustExist(t, reg, repo, true, child.Digest) // the index needs it
		if lost := (*LostError)(nil); errors.As(err, &lost) {
			t.Errorf("the apply reports a loss though rel and what it needs are back: %v", err)
		}
	})
}

// The same index, its child deleted by the earlier chunk, when a kept tag
// goes with it instead: "stable" is moved onto the index just before its
// DELETE (the registry API's window), which takes it along. Verification
// finds stable gone and puts back, untagged, what the chunk deleted
// (restoreTag → restoreSuspects: the tag may have been moved onto any of
// it): the index, which the registry refuses without its child. Its child,
// in the journal from the earlier chunk, comes back first, then the index;
// stable goes back where it pointed when last read. Failed before the fix
// (the index's put-back refused: a loss).
func TestReview53SuspectIndexChildDeletedInAnEarlierChunk(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review53/suspect-index-across-chunks"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		child, err := reg.PushImage(repo, created)
		if err != nil {
			t.Fatal(err)
		}
		index := pushIndexAfter53(t, reg, repo, child.Digest)
		if err := reg.Tag(repo, child.Digest, "old-c"); err != nil {
			t.Fatal(err)
		}
		if err := reg.Tag(repo, index, "old-i"); err != nil {
			t.Fatal(err)
		}
		stable, err := reg.PushImage(repo, created, "stable")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		planned, err := c.PlanTagDeletion(context.Background(), repo, []string{"old-c", "old-i"}, true)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{child.Digest.String(), index.String()}; !slices.Equal(planned.Untagged, want) {
			t.Fatalf("planned untagged %q; want the child, then the index: %q", planned.Untagged, want)
		}
		var once sync.Once
		proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/manifests/"+index.String()) {
				once.Do(func() { linkTag50(t, reg, repo, "stable", index) }) // moved onto it; its DELETE, forwarded next, takes it
			}
			return false
		})
		_, err = c.ExecuteTagDeletion(context.Background(), planned)
		t.Logf("apply: %v", err)
		mustExist(t, reg, repo, true, child.Digest, index) // put back untagged: stable may have been moved onto the index
		tagIs(t, reg, repo, "stable", stable.Digest)       // back where it pointed when last read
		if lost := (*LostError)(nil); errors.As(err, &lost) {
			t.Errorf("the apply reports a loss though the index and its child are back: %v", err)
		}
	})
}
