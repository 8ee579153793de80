// Package retention is the provider's pure policy core: it decides which
// tags to keep or delete from a snapshot of a registry, with no I/O. The
// clock is an input, never time.Now().
package retention

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Order is how tags are ranked.
type Order string

const (
	// ByName sorts tags by name, ascending.
	ByName Order = "name"
	// BySemver ranks the highest version first; a leading "v" is allowed and
	// tags that are not versions rank below every version, by name.
	BySemver Order = "semver"
	// ByCreated ranks the newest image first; images of unknown age rank
	// last. Ties break by name.
	ByCreated Order = "created"
)

// Orders lists every Order, for validators and docs.
var Orders = []Order{ByName, BySemver, ByCreated}

// Tag is one tag in a snapshot.
type Tag struct {
	Name    string
	Digest  string
	Created time.Time // zero: unknown age
}

// Sort orders tags in place.
func Sort(tags []Tag, by Order) {
	switch by {
	case BySemver:
		versions := make(map[string]*semver.Version, len(tags))
		for _, t := range tags {
			if v, err := semver.NewVersion(t.Name); err == nil {
				versions[t.Name] = v
			}
		}
		slices.SortStableFunc(tags, func(a, b Tag) int {
			return cmp.Or(compareVersionsDesc(versions[a.Name], versions[b.Name]), strings.Compare(a.Name, b.Name))
		})
	case ByCreated:
		slices.SortStableFunc(tags, func(a, b Tag) int {
			return cmp.Or(compareTimesDesc(a.Created, b.Created), strings.Compare(a.Name, b.Name))
		})
	default:
		slices.SortStableFunc(tags, func(a, b Tag) int { return strings.Compare(a.Name, b.Name) })
	}
}

// compareVersionsDesc puts higher versions first and non-versions (nil) last.
func compareVersionsDesc(a, b *semver.Version) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return b.Compare(a)
}

// compareTimesDesc puts newer times first and unknown (zero) times last.
func compareTimesDesc(a, b time.Time) int {
	switch {
	case a.IsZero() && b.IsZero():
		return 0
	case a.IsZero():
		return 1
	case b.IsZero():
		return -1
	}
	return b.Compare(a)
}
