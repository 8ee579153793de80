package retention

import (
	"slices"
	"testing"
	"time"
)

func names(tags []Tag) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = t.Name
	}
	return out
}

func TestSortBySemver(t *testing.T) {
	tags := []Tag{{Name: "v1.2.0"}, {Name: "latest"}, {Name: "1.10.0"}, {Name: "v1.9.3"}, {Name: "2.0.0-rc.1"}, {Name: "2.0.0"}, {Name: "abc"}}
	Sort(tags, BySemver)
	want := []string{"2.0.0", "2.0.0-rc.1", "1.10.0", "v1.9.3", "v1.2.0", "abc", "latest"}
	if got := names(tags); !slices.Equal(got, want) {
		t.Fatalf("semver order = %v, want %v", got, want)
	}
}

func TestSortByCreated(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tags := []Tag{
		{Name: "old", Created: base},
		{Name: "unknown"},
		{Name: "b-new", Created: base.Add(time.Hour)},
		{Name: "a-new", Created: base.Add(time.Hour)},
		{Name: "mid", Created: base.Add(time.Minute)},
	}
	Sort(tags, ByCreated)
	want := []string{"a-new", "b-new", "mid", "old", "unknown"}
	if got := names(tags); !slices.Equal(got, want) {
		t.Fatalf("created order = %v, want %v", got, want)
	}
}

func TestSortByName(t *testing.T) {
	tags := []Tag{{Name: "b"}, {Name: "a"}, {Name: "c"}}
	Sort(tags, ByName)
	if got := names(tags); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("name order = %v", got)
	}
}
