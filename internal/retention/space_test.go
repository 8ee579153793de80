package retention

import (
	"reflect"
	"testing"
)

func TestReclaimable(t *testing.T) {
	image, shared, index, child, sig, kept := dig(1), dig(2), dig(3), dig(4), dig(5), dig(6)
	layer, common, childLayer := dig(11), dig(12), dig(13)
	repo := Repository{
		Name: "app",
		Tags: []Tag{{Name: "old", Digest: image}, {Name: "older", Digest: shared}, {Name: "multi", Digest: index},
			{Name: referrer(image, ".sig"), Digest: sig}, {Name: "stable", Digest: kept}},
		Blobs: map[string][]Blob{
			image:  {{image, 100}, {layer, 1000}, {common, 5000}},
			shared: {{shared, 200}, {common, 5000}},                  // shares a layer with the deleted image only
			index:  {{index, 300}, {child, 400}, {childLayer, 2000}}, // its child and the child's layer
			sig:    {{sig, 50}, {dig(14), 10}},                       // a signature and its payload
			kept:   {{kept, 600}, {layer, 1000}},                     // stays: holds image's first layer
		},
	}
	decisions := []Decision{
		{Repository: "app", Digest: image, Action: DeleteManifest, Referrers: []string{sig}},
		{Repository: "app", Digest: shared, Action: DeleteManifest},
		{Repository: "app", Digest: index, Action: DeleteManifest, Children: []string{child}},
		{Repository: "app", Digest: kept, Action: Untag},
	}
	got := Reclaimable([]Repository{repo}, decisions)
	want := []int64{
		100 + 5000 + 50 + 10, // not layer (stable holds it); common counted here, first
		200,                  // common already counted
		300 + 400 + 2000,
		0, // untagging frees nothing
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// What a repository of the policy keeps counts, whichever holds it.
	other := Repository{Name: "other", Tags: []Tag{{Name: "v1", Digest: dig(7)}}, Blobs: map[string][]Blob{dig(7): {{dig(7), 1}, {common, 5000}}}}
	if got := Reclaimable([]Repository{repo, other}, decisions); got[0] != 100+50+10 || got[1] != 200 {
		t.Fatalf("with another repository holding the common layer: got %v", got)
	}
}
