package registry

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// R8: a manifest another apply deleted between this apply's journal read
// and its DELETE (404) is counted as deleted by this apply.
func TestApplyReviewCountsAnotherAppliesDeletion(t *testing.T) {
	reg := testregistry.Start(t)
	x, _ := reg.PushImage("app", time.Time{}, "pr-1")
	if _, err := reg.PushImage("app", time.Time{}, "stable"); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL})
	batch := planPolicy(t, c, "app", "^pr-")
	var once sync.Once
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, x.Digest.String()) {
			once.Do(func() {
				if err := reg.DeleteManifest("app", x.Digest); err != nil {
					t.Error(err)
				}
			})
		}
		return false
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	t.Logf("err=%v deleted=%d", err, report.Deleted)
	if report.Deleted != 0 {
		t.Errorf("Deleted = %d; the registry answered 404, another client deleted it", report.Deleted)
	}
}
