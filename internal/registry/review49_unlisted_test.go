package registry

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Held (attack on resolveUnlistedTags): a deployed image's tag pushed onto
// a planned image right after the plan's tag listing (so the listing does
// not name it) is resolved by the registry and its digest pinned: the plan
// keeps the image, reports nothing missing, and the apply of that plan
// deletes only the other planned image.
func TestReview49DeployedTagPushedAfterTheListingIsPinned(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review49/unlisted"
		created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		p1, err := reg.PushImage(repo, created, "pr-1")
		if err != nil {
			t.Fatal(err)
		}
		p2, err := reg.PushImage(repo, created, "pr-2")
		if err != nil {
			t.Fatal(err)
		}
		proxy := newFaultProxy(t, reg.URL)
		var listed atomic.Bool
		var once sync.Once
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "/tags/list") {
				listed.Store(true)
			} else if listed.Load() && strings.Contains(r.URL.Path, "/manifests/") {
				once.Do(func() {
					if err := reg.Tag(repo, p1.Digest, "rel"); err != nil {
						t.Error(err)
					}
				})
			}
			return false
		})
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		policy := deletePR()
		policy.Images = []retention.Image{{Reference: "example/" + repo + ":rel", Repository: repo, Tag: "rel"}}
		plan := decideRepository(t, c, repo, policy)
		proxy.setFault(nil)
		for _, d := range plan.Decisions {
			if d.Digest == p1.Digest.String() {
				t.Fatalf("the plan deletes %s, which the deployed rel (pushed after the listing) names", p1.Digest)
			}
		}
		if len(plan.MissingImages) > 0 {
			t.Errorf("missing images %q; rel resolves", plan.MissingImages)
		}
		b := batchOf(repo, plan.Decisions)
		b.Policy, b.Now = &policy, time.Now()
		if _, err := c.ExecuteBatches(context.Background(), []Batch{b}); err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, true, p1.Digest)
		mustExist(t, reg, repo, false, p2.Digest)
		tagIs(t, reg, repo, "rel", p1.Digest)
	})
}
