package retention

import (
	"regexp"
	"slices"
	"testing"
)

func TestMatchRepositories(t *testing.T) {
	catalog := []string{"team/api", "team/web", "team/sub/deep", "tools/ci", "teamless", "other/x.y"}
	for patterns, want := range map[string][]string{
		"team/*":       {"team/api", "team/web"},
		"team/**":      {"team/api", "team/sub/deep", "team/web"},
		"**":           {"other/x.y", "team/api", "team/sub/deep", "team/web", "teamless", "tools/ci"},
		"tools/ci":     {"tools/ci"},
		"team?ess":     {"teamless"},
		"team*":        {"teamless"},
		"other/x.y":    {"other/x.y"},
		"*/c?":         {"tools/ci"},
		"missing/repo": nil,
	} {
		re, err := CompileGlob(patterns)
		if err != nil {
			t.Fatal(err)
		}
		if got := MatchRepositories([]*regexp.Regexp{re}, catalog); !slices.Equal(got, want) {
			t.Errorf("%q matched %v, want %v", patterns, got, want)
		}
	}
	if _, err := CompileGlob(""); err == nil {
		t.Error("empty pattern accepted")
	}
}
