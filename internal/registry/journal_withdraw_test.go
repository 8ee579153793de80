package registry

import (
	"slices"
	"testing"
)

// A withdrawal (an image journaled, then kept by the last look before its
// DELETE: review 58) drops the apply's earlier entries of it; a later
// entry of the same apply (journaled again, then deleted) stands, and
// another apply's entries are not touched.
func TestJournalWithdrawalsGoByChunkOrder(t *testing.T) {
	rec := func(apply, digest string, kept bool) JournalRecord {
		return JournalRecord{JournalEntry: JournalEntry{Repository: "app", Digest: digest, Kept: kept}, ApplyID: apply}
	}
	got := withoutWithdrawn([]JournalRecord{
		rec("a1", "sha256:kept", false), rec("a2", "sha256:kept", false), rec("a1", "sha256:kept", true),
		rec("a1", "sha256:again", false), rec("a1", "sha256:again", true), rec("a1", "sha256:again", false),
	})
	var left []string
	for _, r := range got {
		left = append(left, r.ApplyID+" "+r.Digest)
	}
	if want := []string{"a2 sha256:kept", "a1 sha256:again"}; !slices.Equal(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
	tags := []string{"j-20261207T101010Z-ab-10", "j-20261207T090000Z-cd-3", "j-20261207T101010Z-ab-2"}
	sortChunks(tags)
	if want := []string{"j-20261207T090000Z-cd-3", "j-20261207T101010Z-ab-2", "j-20261207T101010Z-ab-10"}; !slices.Equal(tags, want) {
		t.Errorf("chunks in order %q, want %q", tags, want)
	}
}
