package registry

import (
	"context"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A manifest another client deletes between this apply's journal read and
// its DELETE (answered 404) is not counted as this apply's deletion
// (review finding: it was).
func TestApplyDoesNotCountAnotherClientsDeletion(t *testing.T) {
	reg := testregistry.Start(t)
	x, _ := reg.PushImage("app", time.Time{}, "pr-1")
	if _, err := reg.PushImage("app", time.Time{}, "stable"); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL})
	batch := planPolicy(t, c, "app", "^pr-")
	onFirstDeleteOf(proxy, x.Digest.String(), func() {
		if err := reg.DeleteManifest("app", x.Digest); err != nil {
			t.Error(err)
		}
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	t.Logf("err=%v deleted=%d", err, report.Deleted)
	if report.Deleted != 0 {
		t.Errorf("Deleted = %d; the registry answered 404, another client deleted it", report.Deleted)
	}
}
