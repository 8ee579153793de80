package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// validate runs v on value as the attribute at p and returns the error
// shown to the user, "" when the value is accepted.
func validate(v validator.String, p path.Path, value string) string {
	var resp validator.StringResponse
	v.ValidateString(context.Background(), validator.StringRequest{Path: p, ConfigValue: types.StringValue(value)}, &resp)
	if !resp.Diagnostics.HasError() {
		return ""
	}
	d := resp.Diagnostics.Errors()[0]
	return d.Summary() + ": " + d.Detail()
}

// Repository names follow the distribution grammar: a name the registry
// library would clean into another repository ("x/../app" into "app") is
// refused at plan time, naming the attribute and the form to use.
func TestRepositoryValidator(t *testing.T) {
	at := path.Root("repository")
	for _, good := range []string{"app", "team/app", "a/b/c", "my-app", "my__app", "my.app", "a--b", "0", "registry.example.com/app"} {
		if msg := validate(repositoryValidator, at, good); msg != "" {
			t.Errorf("%q refused: %s", good, msg)
		}
	}
	for _, bad := range []string{"x/../app", "a//b", "a/b/", "./app", "a/./b", "/app", "..", "App", "Team/app", "localhost:5000/app", "app:v1",
		"-app", "a b", strings.Repeat("a", 256), "team/" + strings.Repeat("a", 251)} {
		msg := validate(repositoryValidator, at, bad)
		if !strings.HasPrefix(msg, "Invalid repository: ") || !strings.Contains(msg, "separated by single '/', like team/app") {
			t.Errorf("%q: %q; want an error on repository saying what a name looks like", bad, msg)
		}
	}
}

// Explicit deletions take any repository the grammar allows except the
// provider's own, where its journal lives; a name that only starts alike
// is anyone's.
func TestDeletableRepositoryValidator(t *testing.T) {
	at := path.Root("repository")
	for _, good := range []string{"team/app", "terraform-provider-registry", "terraform-provider-registry-x/journal"} {
		if msg := validate(deletableRepositoryValidator, at, good); msg != "" {
			t.Errorf("%q refused: %s", good, msg)
		}
	}
	for _, own := range []string{"terraform-provider-registry/journal", "terraform-provider-registry/gc-probe/x"} {
		msg := validate(deletableRepositoryValidator, at, own)
		if !strings.HasPrefix(msg, "Invalid repository: ") || !strings.Contains(msg, "one of the provider's own repositories") || !strings.Contains(msg, "name one of your repositories instead") {
			t.Errorf("%q: %q; want an error on repository naming the provider's own repositories and the fix", own, msg)
		}
	}
	if msg := validate(deletableRepositoryValidator, at, "x/../app"); !strings.Contains(msg, "like team/app") {
		t.Errorf("an invalid name: %q; want the grammar's error", msg)
	}
}

// Patterns follow the same grammar, glob characters aside: '*' and '?'
// within a component, '**' across '/'.
func TestGlobValidator(t *testing.T) {
	at := path.Root("repositories").AtListIndex(0)
	for _, good := range []string{"app", "team/*", "team/**", "**", "*", "team/**/app", "*-app", "app-?", "tools/ci", "a.*", "team*/x"} {
		if msg := validate(globValidator, at, good); msg != "" {
			t.Errorf("%q refused: %s", good, msg)
		}
	}
	for _, bad := range []string{"x/../*", "a//*", "team/", "/team/*", "./*", "a/./*", "../**", "Team/*", "team/*:v1", "*/-x", ""} {
		msg := validate(globValidator, at, bad)
		if !strings.HasPrefix(msg, "Invalid repositories[0]: ") || !strings.Contains(msg, "like team/* or team/**") {
			t.Errorf("%q: %q; want an error on repositories[0] saying what a pattern looks like", bad, msg)
		}
	}
}
