package registry

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// Review 37: a tag pushed during verification itself.

// onFirstListingAfterDelete runs act once, when the first tag listing
// after the first DELETE reaches the proxy (the verification of the first
// chunk), before the registry answers it.
func onFirstListingAfterDelete(proxy *faultProxy, act func()) {
	var deleted atomic.Bool
	var once sync.Once
	proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodDelete:
			deleted.Store(true)
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/tags/list") && deleted.Load():
			once.Do(act)
		}
		return false
	})
}

// A new tag pushed onto a manifest the second chunk deletes, as the first
// chunk's verification lists the tags: the second chunk's last check
// resolves it and keeps that manifest, with its tag and the tag the plan
// saw on it; the report counts what is gone: holds.
func TestReview37TagPushedDuringVerificationOntoTheNextChunk(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review37/pushed-during-verify"
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch, stable := bigRepo(t, reg, c, repo)
		last := batch.Manifests[19]
		onFirstListingAfterDelete(proxy, func() {
			if err := reg.Tag(repo, mustHash(t, last.Digest), "hotfix"); err != nil {
				t.Error(err)
			}
		})
		c = newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		tagIs(t, reg, repo, "stable", stable)
		tagIs(t, reg, repo, "hotfix", mustHash(t, last.Digest))
		tagIs(t, reg, repo, last.Tags[0], mustHash(t, last.Digest))
		var planned []v1.Hash
		for _, m := range batch.Manifests {
			planned = append(planned, mustHash(t, m.Digest))
		}
		deletedAsReported(t, reg, repo, report, planned...)
	})
}
