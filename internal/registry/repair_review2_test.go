package registry

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// An apply cancelled while its last DELETE is in flight still verifies:
// "stable", moved onto the digest in the window and taken by the DELETE
// the registry carries out anyway, comes back (review finding: verification
// ran with the cancelled context and lost it unreported).
func TestApplyVerifiesWhenCancelledDuringItsLastDelete(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		x, _ := reg.PushImage("app", time.Time{}, "pr-1")
		stable, _ := reg.PushImage("app", time.Time{}, "stable")
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL})
		batch := planPolicy(t, c, "app", "^pr-")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		onFirstDeleteOf(proxy, x.Digest.String(), func() {
			if err := reg.Tag("app", x.Digest, "stable"); err != nil {
				t.Error(err)
			}
			cancel()
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("err=%v restored=%q lost=%q deleted=%d", err, report.Restored, report.Lost, report.Deleted)
		if got := resolvesTo(t, reg, "app", "stable"); got != stable.Digest.String() {
			t.Errorf("stable resolves to %s; want it back on %s", got, stable.Digest)
		}
	})
}

// The policy is evaluated again before a chunk when the registry changed
// in ways the apply did not make. Keep the newest 20 by name of 40: the
// plan deletes v00..v19. During the first chunk (16 items) someone else
// deletes the 20 newest; the policy then keeps what is left, and the
// second chunk deletes none of it (review finding: it was evaluated once).
func TestApplyEvaluatesThePolicyAgainBetweenChunks(t *testing.T) {
	reg := testregistry.Start(t)
	var imgs []testregistry.Image
	for i := range 40 {
		im, err := reg.PushImage("app", time.Time{}, fmt.Sprintf("v%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, im)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
	policy := retention.Policy{Keep: []retention.KeepRule{{TagRegex: regexp.MustCompile("^v"), Newest: 20, OrderBy: retention.Order("name")}}, Delete: []retention.DeleteRule{{}}}
	batch := batchOf("app", decideRepository(t, c, "app", policy).Decisions)
	batch.Policy, batch.Now = &policy, time.Now()
	if len(batch.Manifests) != 20 {
		t.Fatalf("planned %d", len(batch.Manifests))
	}
	var once sync.Once
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete {
			once.Do(func() {
				for _, im := range imgs[20:] {
					if err := reg.DeleteManifest("app", im.Digest); err != nil {
						t.Error(err)
					}
				}
			})
		}
		return false
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	tags, _ := reg.Tags("app")
	t.Logf("err=%v deleted=%d skipped=%d tags left=%v", err, report.Deleted, len(report.Skipped), tags)
	if len(tags) == 0 {
		t.Errorf("the repository is empty; the policy (keep newest 20) evaluated before chunk 2 keeps v16..v19")
	}
}

// Report.Restored (Summary's "N restored", the provider's "Put back during
// the apply" warning) lists only what was put back: an image someone else
// deleted during the apply is not (review finding: it was listed). Since
// review 49, the chunk's deletion that a kept tag gone with its image may
// have been moved onto is put back, untagged (when in doubt, keep), and
// listed: it is in the registry again.
func TestApplyRestoredListsOnlyWhatWasPutBack(t *testing.T) {
	reg := testregistry.Start(t)
	x, _ := reg.PushImage("app", time.Time{}, "pr-1")
	y, _ := reg.PushImage("app", time.Time{}, "other")
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL})
	batch := planPolicy(t, c, "app", "^pr-")
	onFirstDeleteOf(proxy, x.Digest.String(), func() {
		if err := reg.DeleteManifest("app", y.Digest); err != nil {
			t.Error(err)
		}
	})
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	t.Logf("err=%v summary=%q restored=%q", err, report.Summary(), report.Restored)
	for _, r := range report.Restored {
		if strings.Contains(r, y.Digest.String()) {
			t.Errorf("Restored lists %s, which someone else deleted and nothing put back: %s", y.Digest, r)
		}
	}
	if len(report.Restored) != 1 || !strings.HasPrefix(report.Restored[0], x.Digest.String()) {
		t.Errorf("Restored = %q; want %s alone, put back untagged", report.Restored, x.Digest)
	}
	mustExist(t, reg, "app", true, x.Digest)
}
