package provider

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// listingFaultProxy forwards to reg; once both digests in *targets were
// deleted, it answers the next tag listing (the verification after the
// chunk) 403, as a gateway might (not retried).
func listingFaultProxy(t *testing.T, reg *testregistry.Registry, targets *atomic.Value) *httptest.Server {
	t.Helper()
	target, err := url.Parse(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	var deletes atomic.Int32
	var failed atomic.Bool
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		digests, _ := targets.Load().([]string)
		if r.Method == http.MethodDelete && slices.ContainsFunc(digests, func(d string) bool { return strings.HasSuffix(r.URL.Path, d) }) {
			deletes.Add(1)
		}
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/tags/list") && deletes.Load() == 2 && failed.CompareAndSwap(false, true) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"denied"}]}`))
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	return proxy
}

// An apply of the policy that deletes pr-1's and pr-2's images, then fails
// in the verification after the chunk (its tag listing refused) kept the
// prior state: the Update returned before recording applied, so
// applied.deletions_id kept the last value and garbage collection,
// triggered on it, never ran for them. The apply now records applied also
// when it stops with an error.
func TestAccReview38GarbageCollectionAfterAnApplyThatDeletedThenFailed(t *testing.T) {
	reg := startRegistry(t)
	mustPush(t, reg, "app", "v1")
	mustPush(t, reg, "app", "pr-0")
	var targets atomic.Value
	proxy := listingFaultProxy(t, reg, &targets)
	config := fmt.Sprintf(`
provider "registry" {
  url             = %q
  max_concurrency = 1
}

resource "registry_retention_policy" "this" {
  repositories = ["app"]
  delete {
    tag_regex = "^pr-"
  }
}

resource "registry_garbage_collection" "test" {
  storage_driver     = "filesystem"
  storage_parameters = { rootdirectory = %q }
  dry_run            = true
  triggers = {
    deletions = registry_retention_policy.this.applied.deletions_id
  }
}
`, proxy.URL, reg.RootDir)
	gcRun := tfjsonpath.New("id")
	runIDChanged := statecheck.CompareValue(compare.ValuesDiffer())
	accTest(t,
		resource.TestStep{ // deletes pr-0; garbage collection runs
			Config:            config,
			ConfigStateChecks: []statecheck.StateCheck{runIDChanged.AddStateValue(gcAddress, gcRun)},
			Check:             expectRegistryTags(reg, "app", "v1"),
		},
		resource.TestStep{ // deletes pr-1 and pr-2, then the verification fails
			PreConfig: func() {
				x := mustPush(t, reg, "app", "pr-1")
				y := mustPush(t, reg, "app", "pr-2")
				targets.Store([]string{x.Digest.String(), y.Digest.String()})
			},
			Config:      config,
			ExpectError: regexp.MustCompile("Cannot apply the retention policy"),
		},
		resource.TestStep{ // both gone: garbage collection is due
			PreConfig: func() {
				if tags, err := reg.Tags("app"); err != nil || len(tags) != 1 {
					t.Errorf("tags %v (%v); want v1 alone: both pr- images deleted", tags, err)
				}
			},
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(gcAddress, plancheck.ResourceActionUpdate),
			}},
			ConfigStateChecks: []statecheck.StateCheck{runIDChanged.AddStateValue(gcAddress, gcRun)},
		},
	)
}
