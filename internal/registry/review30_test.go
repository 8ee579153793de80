package registry

import (
	"context"
	"regexp"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A deployment may name an index before the registry holds it (the
// configuration lists the digest a release will push). The plan, which
// could not read it, deletes the tagged index pr-7 with its child C; the
// deployed index, pushed before the apply and listing C, is read by the
// apply (readPinned) and the policy evaluated then keeps C. The apply
// deletes only what both delete (retention.Permitted): pr-7 and its other
// child, never C, which the deployed index needs.
func TestApplyKeepsAChildOfADeployedIndexPushedAfterThePlan(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review30/pinned-later"
		ctx := context.Background()
		c := newClient(t, Config{URL: reg.URL})
		created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		shared, err := reg.PushImageFor(repo, v1.Platform{OS: "linux", Architecture: "amd64"}, created)
		if err != nil {
			t.Fatal(err)
		}
		own, err := reg.PushImageFor(repo, v1.Platform{OS: "linux", Architecture: "arm64"}, created)
		if err != nil {
			t.Fatal(err)
		}
		pr7, err := reg.PushIndexOf(repo, []v1.Hash{shared.Digest, own.Digest}, "pr-7")
		if err != nil {
			t.Fatal(err)
		}
		// The deployed index's digest, known before the registry holds it.
		deployed, err := reg.PushIndexOf(repo, []v1.Hash{shared.Digest})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.deleteManifest(ctx, repo, deployed.String()); err != nil {
			t.Fatal(err)
		}
		policy := retention.Policy{
			Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^pr-")}},
			Images: []retention.Image{{Reference: "reg.example.com/" + repo + "@" + deployed.String(), Repository: repo, Digest: deployed.String()}},
		}
		plan := decideRepository(t, c, repo, policy)
		if len(plan.Decisions) != 1 || plan.Decisions[0].Digest != pr7.String() || len(plan.Decisions[0].Children) != 2 {
			t.Fatalf("decisions %+v, want pr-7 deleted with both children (the deployed index is not in the registry yet)", plan.Decisions)
		}

		// The release pushes the deployed index between the plan and the apply.
		if again, err := reg.PushIndexOf(repo, []v1.Hash{shared.Digest}); err != nil || again != deployed {
			t.Fatalf("pushed again: %s (%v), want %s", again, err, deployed)
		}
		batch := batchOf(repo, plan.Decisions)
		batch.Policy, batch.Now = &policy, time.Now()
		if _, err := newClient(t, Config{URL: reg.URL}).ExecuteBatches(ctx, []Batch{batch}); err != nil {
			t.Fatal(err)
		}
		mustExist(t, reg, repo, true, deployed, shared.Digest)
		mustExist(t, reg, repo, false, pr7, own.Digest)
	})
}
