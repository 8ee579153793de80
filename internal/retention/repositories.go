package retention

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A repository pattern is a glob over repository paths: '*' and '?' stay
// within one path component, '**' crosses '/'. path.Match has no '**',
// hence this small translation to a regular expression.

// CompileGlob turns a repository pattern into an anchored regular
// expression.
func CompileGlob(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		return nil, fmt.Errorf("empty repository pattern")
	}
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '*' && i+1 < len(pattern) && pattern[i+1] == '*':
			re.WriteString(".*")
			i++
		case c == '*':
			re.WriteString("[^/]*")
		case c == '?':
			re.WriteString("[^/]")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	return regexp.Compile(re.String())
}

// ProviderNamespace holds the provider's own repositories in a registry
// (the journal of its deletions, the GC probe): no policy matches them.
const ProviderNamespace = "terraform-provider-registry/"

// MatchRepositories returns the catalog entries that match any pattern,
// sorted and without repeats, never the provider's own (ProviderNamespace).
func MatchRepositories(patterns []*regexp.Regexp, catalog []string) []string {
	var out []string
	for _, name := range catalog {
		if strings.HasPrefix(name, ProviderNamespace) {
			continue
		}
		if slices.ContainsFunc(patterns, func(p *regexp.Regexp) bool { return p.MatchString(name) }) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Selection is the repositories a policy governs: those an Include
// pattern matches and no Exclude pattern does. Exclude is how a broad
// policy (an organisation's default) leaves repositories to a more
// specific one, so that two policies never govern one repository.
type Selection struct {
	Include, Exclude []*regexp.Regexp
}

// NewSelection compiles repository patterns (CompileGlob) into a Selection.
func NewSelection(include, exclude []string) (Selection, error) {
	var s Selection
	for _, p := range include {
		re, err := CompileGlob(p)
		if err != nil {
			return s, err
		}
		s.Include = append(s.Include, re)
	}
	for _, p := range exclude {
		re, err := CompileGlob(p)
		if err != nil {
			return s, err
		}
		s.Exclude = append(s.Exclude, re)
	}
	return s, nil
}

// Match returns the catalog entries the selection governs, sorted
// (MatchRepositories, less the excluded).
func (s Selection) Match(catalog []string) []string {
	excluded := MatchRepositories(s.Exclude, catalog)
	return slices.DeleteFunc(MatchRepositories(s.Include, catalog), func(name string) bool {
		_, found := slices.BinarySearch(excluded, name)
		return found
	})
}
