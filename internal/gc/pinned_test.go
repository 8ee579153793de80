package gc

import (
	"slices"
	"testing"
)

// A protected digest keeps what retention.Pinned says it keeps, as the
// retention policy does: a deployed signature keeps the image it signs
// even when nothing tags that image, and with it that image's other
// referrers.
func TestMarkKeepsWhatAProtectedDigestReaches(t *testing.T) {
	inv := testInventory()
	plan := mark(inv, Options{DeleteUntagged: true, Protect: map[string][]string{"app": {d("old-sig").String()}}})
	if got := deletedManifests(plan); len(got) != 0 {
		t.Errorf("deleted manifests = %v, want none: old-sig names old as its subject", got)
	}
	for _, keptBlob := range []string{"old-layer", "old-sig-layer"} {
		if !plan.isMarked(inv, keptBlob) {
			t.Errorf("%s is not marked", keptBlob)
		}
	}
	// Protecting a digest of another repository keeps nothing here.
	plan = mark(testInventory(), Options{DeleteUntagged: true, Protect: map[string][]string{"other": {d("old-sig").String()}}})
	if got, want := deletedManifests(plan), []string{"app/old", "app/old-sig"}; !slices.Equal(got, want) {
		t.Errorf("deleted manifests = %v, want %v", got, want)
	}
}
