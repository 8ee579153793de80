package registry

// Review 49 (after ebe37b8, d9510ee and e947497), against distribution v3
// and 2.8. This file holds the list of the review's defects and attacks
// that held; the tests are in review49_*_test.go.
//
// Defects (all fixed, each test kept as a regression test: a batch that
// deleted anything resolves every staying tag before it returns, also when
// stopped between chunks; dangling tags are resolved again before each
// chunk and after the last; what the chunk deleted is put back for a kept
// tag gone with its image on every registry; the plan record's key is a
// canonical encoding, map entries sorted):
//   - TestReview49InterruptedBetweenChunksSkipsTheLastResolve
//     (review49_interrupt_test.go): "after the last chunk every tag that
//     stays is resolved again" holds only when executeBatch reaches a
//     verify with last = true. An apply interrupted between chunks (or a
//     record / lastCheck / judge error there, including the errgroup
//     cancelling the other repositories of ExecuteBatches when one
//     repository fails) returns before any verify: in a large repository,
//     a kept tag promoted onto a new index over images the first chunk
//     deleted stays broken, restored and lost empty, and the error says
//     "what was already deleted stays deleted, nothing else was".
//   - TestReview49DanglingKeptTagPushedOntoPlannedDigestIsLostSilently
//     (review49_dangling_test.go): a kept tag that is dangling at the view
//     (listed, resolving to nothing) lives in Snapshot.Unresolved, which
//     lastCheck (new names only: listed() counts Unresolved), fewStaying,
//     staying (the last-chunk resolve) and verify all pass over. Pushed
//     again during the apply onto a planned image, the DELETE takes it and
//     the apply reports success, in a repository of two staying tags.
//   - TestReview49KeptTagMovedOntoPlannedImageWhoseOldImageACleanerDeleted
//     (review49_cleaner_test.go): on distribution, a kept tag moved onto
//     a planned image whose old image someone else deleted (an untagged
//     manifest cleaner) goes with the DELETE; restoreTag puts back
//     nothing (restoreSuspects only when freesAtOnce) and the apply
//     succeeds with a warning blaming an image "this apply did not
//     delete": when in doubt it does not keep.
//   - TestReview49PlanRecordKeyUnstableWithAMapInTheState
//     (internal/provider/review49_record_test.go; not this session's
//     code, found checking e947497): planRecords.path hashes the msgpack
//     of config and prior state, and terraform-plugin-go encodes maps in
//     Go's random iteration order: with summary.repositories over two
//     repositories (or two replicas' maps) the apply's planning pass
//     misses the record, and a registry changed since the plan ends in
//     Terraform's "inconsistent final plan".
//
// Attacks that held:
//   - the last-chunk resolve finds a kept tag moved, in a large
//     repository, onto a new attestation (OCI subject) of an image the
//     second chunk deletes: the subject is put back
//     (TestReview49KeptTagMovedOntoAttestationOverLaterChunk, below).
//   - last = true on a failed chunk (runErr), a cancelled chunk
//     (ctx.Err after runChunk), a last chunk of tag-only items, and when
//     the last judge skips every remaining item (empty chunk, then a
//     verify with every work done); once per batch (executeBatch returns
//     after it) (reasoned).
//   - a planned tag removed by someone else (goneAhead in verify): its
//     item resolves it right before removing it (removeTag), so the same
//     name pushed again elsewhere is skipped; a delete_manifest item whose
//     planned tag went ahead and was pushed onto another image stands
//     (undoMovedAway's wentAheadWith) and leaves the new image alone;
//     performed reports an ahead tag only with its deleted digest, which a
//     replica follows by digest (FollowPrimary's removedFrom) (reasoned).
//   - the freed-at-once probe on distribution: a deleted manifest's blobs
//     stay linked until garbage collection, empty blobs are read without
//     a Range; only a blob deleted through the blob API or a garbage
//     collection during the apply answers "freed" (reasoned, not run).
//   - resolveUnlistedTags: only tag references of the same repository
//     without a digest, HEAD each; the apply executes only planned items,
//     and a tag resolved at plan time is listed at apply time on
//     distribution (lastCheck resolves it as a new name), so a pin the
//     apply lacks cannot widen what it deletes. A deployed tag pushed
//     onto a planned image right after the plan's listing is pinned and
//     its image kept, plan and apply
//     (TestReview49DeployedTagPushedAfterTheListingIsPinned,
//     review49_unlisted_test.go).
//   - the plan-speed lists (server.go, server_lists.go answer): a
//     repeated recorded plan returns the recorded encoding with the
//     recorded value, answered lists are put back only where the
//     framework left the empty value; a Read with errors gives back the
//     prior lists: compared with the bare framework server over a plan
//     from the registry, the same plan repeated from the record, a
//     refresh, with and without a replica, the answers are equal
//     (internal/provider/review49_lists_test.go; no Terraform/OpenTofu
//     acceptance run).

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Held: a kept tag moved during the first chunk onto a new attestation
// whose subject the second chunk deletes, in a repository where more tags
// stay than fewStaying resolves: the resolve after the last chunk sees the
// subject and puts it back.
func TestReview49KeptTagMovedOntoAttestationOverLaterChunk(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review49/large-attest"
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch, _ := bigRepo(t, reg, c, repo)
		subject := mustHash(t, batch.Manifests[18].Digest) // second chunk
		var att v1.Hash
		onFirstDeleteOf(proxy, batch.Manifests[0].Digest, func() {
			var err error
			if att, err = reg.PushUntaggedReferrer(repo, subject, "att"); err != nil {
				t.Error(err)
				return
			}
			if err := reg.Tag(repo, att, "stable"); err != nil {
				t.Error(err)
			}
		})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		t.Logf("restored %q lost %q", report.Restored, report.Lost)
		tagIs(t, reg, repo, "stable", att)
		mustExist(t, reg, repo, true, subject)
	})
}
