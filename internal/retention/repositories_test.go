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

func TestSelectionLeavesExcludedRepositories(t *testing.T) {
	catalog := []string{"team-a/api", "team-a/web", "team-b/api", "tools/ci", ProviderNamespace + "journal"}
	for _, tc := range []struct {
		include, exclude, want []string
	}{
		{[]string{"**"}, nil, []string{"team-a/api", "team-a/web", "team-b/api", "tools/ci"}},
		{[]string{"**"}, []string{"team-a/*"}, []string{"team-b/api", "tools/ci"}},
		{[]string{"**"}, []string{"team-a/web", "tools/**"}, []string{"team-a/api", "team-b/api"}},
		{[]string{"team-a/*"}, []string{"team-a/*"}, []string{}},
	} {
		s, err := NewSelection(tc.include, tc.exclude)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Match(catalog); !slices.Equal(got, tc.want) && (len(got) > 0 || len(tc.want) > 0) {
			t.Errorf("%q less %q matched %q, want %q", tc.include, tc.exclude, got, tc.want)
		}
	}
	if _, err := NewSelection([]string{"a"}, []string{""}); err == nil {
		t.Error("an empty exclude pattern accepted")
	}
}
