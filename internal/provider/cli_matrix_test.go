package provider

import (
	"bufio"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// What users read in each CLI's own output, under every CLI make test runs
// (Terraform 1.8 and 1.14, OpenTofu 1.6 and 1.12): the plan is the preview
// of every deletion, so each must show up with its reason however the CLI
// renders the list; commands terraform-plugin-testing does not run
// (-refresh-only, moved) must delete nothing they should not; warnings the
// CLI folds together must still be all there in its JSON output.

const prPolicy = `
resource "registry_retention_policy" "this" {
  repositories = ["app"]
  keep {
    tags = ["latest"]
  }
  delete {
    tag_regex = "^pr-"
  }
}
`

// prRegistry holds latest and two pull-request images, each of its own
// digest, which prPolicy deletes.
func prRegistry(t *testing.T) (*testregistry.Registry, []testregistry.Image) {
	reg := startRegistry(t)
	mustPush(t, reg, "app", "latest")
	return reg, []testregistry.Image{mustPush(t, reg, "app", "pr-1"), mustPush(t, reg, "app", "pr-2")}
}

// expectRendered checks that the CLI's output shows the deletion of digest
// in full, as one object holding its repository, tag and reason: the
// reviewer of a plan must not have to look them up. Every CLI renders a
// deletion as `{ action = ..., digest = ..., reason = ..., repository =
// ..., tags = [...] }` with or without +/-/~ markers.
func expectRendered(t *testing.T, out string, digest v1.Hash, tag string) {
	t.Helper()
	object := regexp.MustCompile(`\{[^{}]*` + regexp.QuoteMeta(digest.String()) + `"[^{}]*\}`)
	for _, o := range object.FindAllString(out, -1) {
		if strings.Contains(o, `reason     = "delete[0] (tag_regex \"^pr-\")"`) &&
			strings.Contains(o, `repository = "app"`) && strings.Contains(o, `"`+tag+`"`) {
			return
		}
	}
	t.Errorf("no deletion of %s (%s) shown in full, with its repository and reason", digest, tag)
}

// A new policy's plan lists every deletion in full, in `plan` and in `show`
// of the saved plan; applying that plan deletes exactly those. When new
// pushes violate the policy, the update plan shows each new deletion in
// full too (under pending_deletions: `deletions` is rendered as a change
// from the last apply's list, which hides what did not change).
func TestAccCLI_planShowsEveryDeletion(t *testing.T) {
	reg, prs := prRegistry(t)
	w := newCLIWorkspace(t, nil, providerBlock(reg, "")+prPolicy)
	plan := w.mustRun("plan", "-out=tfplan", "-input=false", "-no-color")
	show := w.mustRun("show", "-no-color", "tfplan")
	for _, out := range []string{plan, show} {
		expectRendered(t, out, prs[0].Digest, "pr-1")
		expectRendered(t, out, prs[1].Digest, "pr-2")
	}
	w.mustRun("apply", "-input=false", "-no-color", "tfplan")
	if err := expectRegistryTags(reg, "app", "latest")(nil); err != nil {
		t.Fatal(err)
	}

	pr3 := mustPush(t, reg, "app", "pr-3")
	expectRendered(t, w.mustRun("plan", "-input=false", "-no-color"), pr3.Digest, "pr-3")
	w.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
	expectNoChanges(t, w)
}

// expectNoChanges: -detailed-exitcode exits 0 only for an empty plan.
func expectNoChanges(t *testing.T, w *cliWorkspace) {
	t.Helper()
	if _, err := w.run("plan", "-detailed-exitcode", "-input=false", "-no-color"); err != nil {
		t.Errorf("the plan is not empty: %v", err)
	}
}

// apply -refresh-only records new pending deletions in the state, shown as
// changed outside the CLI, and deletes nothing; the next plan deletes them.
func TestAccCLI_refreshOnlyDeletesNothing(t *testing.T) {
	reg, _ := prRegistry(t)
	w := newCLIWorkspace(t, nil, providerBlock(reg, "")+prPolicy)
	w.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
	pr3 := mustPush(t, reg, "app", "pr-3")

	out := w.mustRun("apply", "-refresh-only", "-auto-approve", "-input=false", "-no-color")
	expectRendered(t, out, pr3.Digest, "pr-3")
	if err := expectRegistryTags(reg, "app", "latest", "pr-3")(nil); err != nil {
		t.Fatalf("after apply -refresh-only: %v", err)
	}
	if state := w.mustRun("state", "show", "-no-color", "registry_retention_policy.this"); !strings.Contains(state, pr3.Digest.String()) {
		t.Errorf("pending_deletions in the state lacks %s", pr3.Digest)
	}
	w.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
	if err := expectRegistryTags(reg, "app", "latest")(nil); err != nil {
		t.Error(err)
	}
}

// Renaming a policy with a moved block (or moving it into a module) moves
// its state: the plan shows the move and nothing else, where without it the
// CLI would forget the policy and plan a new one.
func TestAccCLI_movedPolicy(t *testing.T) {
	reg, _ := prRegistry(t)
	w := newCLIWorkspace(t, nil, providerBlock(reg, "")+prPolicy)
	w.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
	renamed := strings.Replace(prPolicy, `"this"`, `"renamed"`, 1)
	w.writeConfig(providerBlock(reg, "") + renamed + `
moved {
  from = registry_retention_policy.this
  to   = registry_retention_policy.renamed
}
`)
	out := w.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
	expectOutput(t, out, "registry_retention_policy.this has moved to registry_retention_policy.renamed", "0 to add, 0 to change, 0 to destroy")
	if state := w.mustRun("state", "list"); strings.TrimSpace(state) != "registry_retention_policy.renamed" {
		t.Errorf("state list = %q", state)
	}
	expectNoChanges(t, w)
}

// Both CLIs print the first of several warnings with the same summary and
// fold the rest into "(and N more similar warnings elsewhere)". Each
// planned deletion skipped at apply is a warning of its own, so the JSON
// output (-json), which every CLI version here has, must name them all.
// A policy matching no repository warns at plan in the human output.
func TestAccCLI_warnings(t *testing.T) {
	reg, prs := prRegistry(t)
	w := newCLIWorkspace(t, nil, providerBlock(reg, "")+prPolicy+`
resource "registry_retention_policy" "none" {
  repositories = ["nothing/*"]
  delete {}
}
`)
	plan := w.mustRun("plan", "-out=tfplan", "-input=false", "-no-color")
	expectOutput(t, plan, "Warning: No matching repository", `No repository in the catalog matches ["nothing/*"]`)
	for _, tag := range []string{"pr-1", "pr-2"} { // each tag moves to a new image
		mustPush(t, reg, "app", tag)
	}
	warnings := jsonWarnings(t, w.mustRun("apply", "-json", "-input=false", "tfplan"), "Skipped a planned deletion")
	for _, pr := range prs {
		if !strings.Contains(warnings, pr.Digest.String()) {
			t.Errorf("no skipped-deletion warning names %s", pr.Digest)
		}
	}
	if err := expectRegistryTags(reg, "app", "latest", "pr-1", "pr-2")(nil); err != nil {
		t.Error(err)
	}
}

// jsonWarnings joins the details of the warnings with summary in a CLI's
// -json output (one JSON message a line).
func jsonWarnings(t *testing.T, out, summary string) string {
	t.Helper()
	var details []string
	lines := bufio.NewScanner(strings.NewReader(out))
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var message struct {
			Level      string `json:"@level"`
			Diagnostic struct{ Summary, Detail string }
		}
		if err := json.Unmarshal(lines.Bytes(), &message); err != nil {
			t.Fatalf("not a JSON message: %q", lines.Text())
		}
		if message.Level == "warn" && message.Diagnostic.Summary == summary {
			details = append(details, message.Diagnostic.Detail)
		}
	}
	return strings.Join(details, "\n")
}

// The source address users write, "distreg/registry", resolves on each
// CLI's own registry host, and the state records that address. (Under
// terraform-plugin-testing, OpenTofu runs use hashicorp/registry instead:
// TF_ACC_PROVIDER_NAMESPACE in the GNUmakefile.)
func TestAccCLI_providerAddress(t *testing.T) {
	reg, _ := prRegistry(t)
	w := newCLIWorkspace(t, nil, providerBlock(reg, "")+prPolicy)
	w.mustRun("apply", "-auto-approve", "-input=false", "-no-color")
	var state struct{ Resources []struct{ Provider string } }
	if err := json.Unmarshal([]byte(w.mustRun("state", "pull")), &state); err != nil || len(state.Resources) != 1 {
		t.Fatalf("state pull: %v, %d resources", err, len(state.Resources))
	}
	host := map[string]string{"Terraform": "registry.terraform.io", "OpenTofu": "registry.opentofu.org"}[w.cli.name]
	if want := `provider["` + host + `/distreg/registry"]`; state.Resources[0].Provider != want {
		t.Errorf("the state records %s, want %s", state.Resources[0].Provider, want)
	}
}
