package registry

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A retention plan fetches only what its rules need: a HEAD per tag when
// no rule looks at creation times; otherwise a GET per tag (never HEAD and
// GET) and each image config once per digest, however many tags share it.
func TestDecideRetentionFetchesOnlyWhatTheRulesNeed(t *testing.T) {
	reg := testregistry.Start(t)
	const images = 6 // each tagged v1.I.0 and build-I
	start := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	for i := range images {
		if _, err := reg.PushImage("need/app", start.Add(time.Duration(i)*time.Hour), fmt.Sprintf("v1.%d.0", i), fmt.Sprintf("build-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	url, n := countingProxy(t, reg.URL)
	for _, c := range []struct {
		order                retention.Order
		heads, gets, configs int64
		decisions            int
	}{
		// Kept: v1.5.0 and v1.4.0; build-5 and build-4 are untagged, the
		// other four digests deleted.
		{retention.BySemver, 2 * images, 0, 0, 6},
		// Kept: both tags of the newest image; the other five deleted.
		{retention.ByCreated, 0, 2 * images, images, 5},
	} {
		t.Run(string(c.order), func(t *testing.T) {
			n.reset()
			policy := retention.Policy{
				Keep:   []retention.KeepRule{{Newest: 2, OrderBy: c.order}},
				Delete: []retention.DeleteRule{{}},
			}
			client := newClient(t, Config{URL: url, MaxConcurrency: 4}) // no disk cache
			plan, err := client.DecideRetention(context.Background(), []*regexp.Regexp{regexp.MustCompile(`^need/app$`)}, policy, start.Add(24*time.Hour))
			decisions := plan.Decisions
			if err != nil {
				t.Fatal(err)
			}
			if len(decisions) != c.decisions {
				t.Errorf("%d decisions, want %d: %+v", len(decisions), c.decisions, decisions)
			}
			if n.heads.Load() != c.heads || n.gets.Load() != c.gets || n.blobs.Load() != c.configs {
				t.Errorf("%d HEADs, %d GETs, %d configs; want %d, %d, %d",
					n.heads.Load(), n.gets.Load(), n.blobs.Load(), c.heads, c.gets, c.configs)
			}
		})
	}
}
