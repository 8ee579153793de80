package registry

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Regression test of review 48 (fixed). Gitea lists tags in lower case and
// resolves them in any case: a deployment that pushed and pulls
// app:Latest runs what the listing calls latest. keep { images } matched
// the reference's tag against the listed names byte for byte, so the
// plan deleted the deployed image, without a warning. A proxy plays
// Gitea's lookups in front of distribution (which itself holds only
// "latest"); without it, "Latest" is another tag that does not exist:
// reported missing, and latest is the policy's to delete.
func TestDeployedTagInAnotherCaseThanListed(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		deployed, err := reg.PushImage("app", time.Now().Add(-48*time.Hour), "latest")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.PushImage("app", time.Now().Add(-72*time.Hour), "old"); err != nil {
			t.Fatal(err)
		}
		for _, caseInsensitive := range []bool{true, false} {
			url := reg.URL
			if caseInsensitive {
				proxy := newFaultProxy(t, reg.URL)
				proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
					if i := strings.Index(r.URL.Path, "/manifests/"); i >= 0 && !strings.Contains(r.URL.Path, "sha256:") {
						r.URL.Path = strings.ToLower(r.URL.Path) // Gitea: a tag in any case
					}
					return false
				})
				url = proxy.URL
			}
			c := newClient(t, Config{URL: url})
			host := strings.TrimPrefix(url, "http://")
			images, _, err := retention.ParseImages([]string{host + "/app:Latest"}, retention.NewHosts("http", host, nil))
			if err != nil {
				t.Fatal(err)
			}
			plan := decideRepository(t, c, "app", retention.Policy{Images: images, Delete: []retention.DeleteRule{{}}, DeleteReferrers: true})
			deletesIt := false
			for _, d := range plan.Decisions {
				deletesIt = deletesIt || d.Digest == deployed.Digest.String()
			}
			switch {
			case caseInsensitive && deletesIt:
				t.Errorf("the registry serves app:Latest as latest, and the plan deletes it (missing: %q)", plan.MissingImages)
			case caseInsensitive && len(plan.MissingImages) > 0:
				t.Errorf("app:Latest is served, and reported missing: %q", plan.MissingImages)
			case !caseInsensitive && (!deletesIt || len(plan.MissingImages) != 1):
				t.Errorf("case-sensitive registry: app:Latest is no tag of it; want latest deleted and Latest reported missing, got deleted %v, missing %q",
					deletesIt, plan.MissingImages)
			}
		}
	})
}
