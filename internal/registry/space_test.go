package registry

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distreg/terraform-provider-registry/internal/gc"
	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// The space a plan announces is what garbage collection frees after the
// apply when nothing outside the policy holds the deleted blobs, and more
// by exactly what an outside repository still holds otherwise.
func TestReclaimableAgreesWithGarbageCollection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		outside bool // copy old-1 into a repository the policy does not cover
	}{{"nothing outside", false}, {"old-1 also outside", true}} {
		t.Run(tc.name, func(t *testing.T) {
			reg := testregistry.Start(t)
			old1 := must(reg.PushImage("app", time.Time{}, "old-1"))
			must(reg.PushImage("app", time.Time{}, "old-2", "keep-me-not"))
			must(reg.PushReferrer("app", old1.Digest, "sig"))
			platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
			if _, _, err := reg.PushIndex("app", platforms, time.Now(), "old-multi"); err != nil {
				t.Fatal(err)
			}
			must(reg.PushImage("app", time.Time{}, "v1"))
			var heldOutside int64
			if tc.outside {
				heldOutside = copyImage(t, reg, "app", old1.Digest, "outside:v1")
			}
			client := newClient(t, Config{URL: reg.URL})
			policy := retention.Policy{Delete: []retention.DeleteRule{{TagRegex: regexp.MustCompile("^(old|keep)-")}}, DeleteReferrers: true, EstimateSpace: true}
			plan := decideRepository(t, client, "app", policy)
			var total, old1Bytes int64
			for i, d := range plan.Decisions {
				total += plan.Reclaimable[i]
				if d.Digest == old1.Digest.String() {
					old1Bytes = plan.Reclaimable[i]
				}
			}
			if _, err := client.ExecuteBatches(context.Background(), []Batch{batchOf("app", plan.Decisions)}); err != nil {
				t.Fatal(err)
			}
			storage := testregistry.OpenStorage(t, "filesystem", map[string]any{"rootdirectory": reg.RootDir})
			report, err := gc.Run(context.Background(), storage, gc.Options{DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			want := total - heldOutside // old-1's manifest, config and layer stay for outside:v1; its signature goes
			if len(plan.Decisions) != 3 || old1Bytes == 0 || report.BytesFreed != want {
				t.Fatalf("%d decisions, estimated %d bytes in all (old-1: %d), garbage collection frees %d, want %d",
					len(plan.Decisions), total, old1Bytes, report.BytesFreed, want)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// copyImage pushes repo@digest to target (repo:tag) in the same registry
// and returns the bytes the image holds: manifest, config and layers.
func copyImage(t *testing.T, reg *testregistry.Registry, repo string, digest v1.Hash, target string) int64 {
	t.Helper()
	src, err := name.NewDigest(reg.Host+"/"+repo+"@"+digest.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := name.NewTag(reg.Host+"/"+target, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(src, reg.RemoteOptions()...)
	if err == nil {
		err = remote.Write(dst, img, reg.RemoteOptions()...)
	}
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	size, err := img.Size()
	if err != nil {
		t.Fatal(err)
	}
	size += manifest.Config.Size
	for _, l := range manifest.Layers {
		size += l.Size
	}
	return size
}
