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
