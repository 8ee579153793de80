package retention

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseImages(t *testing.T) {
	hosts := NewHosts("https", "reg.example.com", []string{"Registry.Internal:5000", "docker.io"})
	d := dig(7)
	for _, tc := range []struct {
		ref  string
		want *Image // nil: another registry's
	}{
		{"reg.example.com/app:v1", &Image{Repository: "app", Tag: "v1"}},
		{"reg.example.com:443/team/app:v1", &Image{Repository: "team/app", Tag: "v1"}},
		{"REG.example.com/app:v1", &Image{Repository: "app", Tag: "v1"}},
		{"reg.example.com/app", &Image{Repository: "app", Tag: "latest"}},
		{"reg.example.com/app@" + d, &Image{Repository: "app", Digest: d}},
		{"reg.example.com/app:v1@" + d, &Image{Repository: "app", Tag: "v1", Digest: d}},
		{"docker-pullable://reg.example.com/app@" + d, &Image{Repository: "app", Digest: d}},
		{"registry.internal:5000/app:v2", &Image{Repository: "app", Tag: "v2"}},
		{"nginx:1.27", &Image{Repository: "library/nginx", Tag: "1.27"}}, // docker.io is an alias here
		{"reg.example.com:5000/app:v1", nil},                             // another port, another registry
		{"registry.internal/app:v1", nil},                                // the alias names port 5000
		{"ghcr.io/org/app:v1", nil},
		{d, nil},               // a bare image ID names no registry
		{"docker://" + d, nil}, // nor does Docker's form of it
		{"  reg.example.com/app:v1 ", &Image{Repository: "app", Tag: "v1"}},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			mine, others, err := ParseImages([]string{tc.ref}, hosts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if len(mine) != 0 || others != 1 {
					t.Fatalf("got %+v and %d others, want another registry's", mine, others)
				}
				return
			}
			want := *tc.want
			want.Reference = tc.ref
			if len(mine) != 1 || others != 0 || !reflect.DeepEqual(mine[0], want) {
				t.Fatalf("got %+v and %d others, want %+v", mine, others, want)
			}
		})
	}
}

func TestParseImagesRefusesWhatIsNoReference(t *testing.T) {
	for _, ref := range []string{"reg.example.com/App:v1", "reg.example.com/app:v1@sha256:12", "reg.example.com/app::v1", ""} {
		_, _, err := ParseImages([]string{"reg.example.com/ok:v1", ref}, NewHosts("https", "reg.example.com", nil))
		if err == nil || !strings.Contains(err.Error(), "is not an image reference") || !strings.Contains(err.Error(), ref) {
			t.Errorf("%q: got %v, want an error naming it", ref, err)
		}
	}
}

func TestNewHostsDefaultPorts(t *testing.T) {
	for _, tc := range []struct {
		scheme, host string
		matches      []string
		misses       []string
	}{
		{"https", "reg.example.com", []string{"reg.example.com", "reg.example.com:443"}, []string{"reg.example.com:80", "reg.example.com:5000"}},
		{"https", "reg.example.com:5000", []string{"reg.example.com:5000"}, []string{"reg.example.com"}},
		{"http", "127.0.0.1:5000", []string{"127.0.0.1:5000"}, []string{"localhost:5000", "127.0.0.1"}},
		{"http", "reg.lan", []string{"reg.lan:80"}, []string{"reg.lan"}},
	} {
		hosts := NewHosts(tc.scheme, tc.host, nil)
		for _, m := range tc.matches {
			if !hosts[canonicalHost(m)] {
				t.Errorf("%s://%s: %s should name it", tc.scheme, tc.host, m)
			}
		}
		for _, m := range tc.misses {
			if hosts[canonicalHost(m)] {
				t.Errorf("%s://%s: %s should not name it", tc.scheme, tc.host, m)
			}
		}
	}
}

// TestDeployedImagesAreKept checks what a deployed image keeps when every
// tag matches a delete rule.
func TestDeployedImagesAreKept(t *testing.T) {
	image, index, child, other, sig := dig(1), dig(2), dig(3), dig(4), dig(5)
	repo := Repository{
		Name: "app",
		Tags: []Tag{
			{Name: "v1", Digest: image}, {Name: "latest", Digest: image},
			{Name: "multi", Digest: index}, {Name: "old", Digest: other},
			{Name: referrer(image, ".sig"), Digest: sig},
		},
		Links: Links{Children: map[string][]string{index: {child, dig(6)}}},
	}
	ref := func(s string) Image {
		mine, _, err := ParseImages([]string{s}, NewHosts("https", "reg.example.com", nil))
		if err != nil || len(mine) != 1 {
			t.Fatalf("%s: %v %v", s, mine, err)
		}
		return mine[0]
	}
	for _, tc := range []struct {
		name       string
		images     []Image
		wantGone   []string
		wantSpared map[string][]string // digest -> tags
	}{
		{"nothing deployed", nil, []string{"latest", "multi", "old", referrer(image, ".sig"), "v1"}, nil},
		{"a tag keeps that tag only", []Image{ref("reg.example.com/app:v1")},
			[]string{"latest", "multi", "old"}, map[string][]string{image: {"v1"}}},
		{"a digest keeps every tag on it, and its referrers", []Image{ref("reg.example.com/app@" + image)},
			[]string{"multi", "old"}, map[string][]string{image: {"latest", "v1"}}},
		{"an index child keeps the index", []Image{ref("reg.example.com/app@" + child)},
			[]string{"latest", "old", referrer(image, ".sig"), "v1"}, map[string][]string{index: {"multi"}}},
		{"another repository's image keeps nothing here", []Image{{Reference: "x", Repository: "other", Tag: "v1", Digest: image}},
			[]string{"latest", "multi", "old", referrer(image, ".sig"), "v1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := Evaluate(repo, Policy{Delete: []DeleteRule{{}}, DeleteReferrers: true, Images: tc.images}, testNow)
			if got := deletedTags(out.Decisions); !reflect.DeepEqual(got, tc.wantGone) {
				t.Errorf("deleted %q, want %q\n%s", got, tc.wantGone, showDecisions(out.Decisions))
			}
			spared := map[string][]string{}
			for _, s := range out.Spared {
				spared[s.Digest] = s.Tags
				if !strings.Contains(s.Reason, "deployed as "+tc.images[0].Reference) || !strings.Contains(s.Reason, "delete[0] (every tag not kept)") {
					t.Errorf("reason %q names neither the image nor the rule", s.Reason)
				}
			}
			if len(tc.wantSpared) == 0 && len(spared) == 0 {
				return
			}
			if !reflect.DeepEqual(spared, tc.wantSpared) {
				t.Errorf("spared %q, want %q", spared, tc.wantSpared)
			}
		})
	}
}

// TestDeployedChildSurvivesItsIndexDeletion: a deployed digest that only an
// untagged path reaches is never deleted as some deleted manifest's child.
func TestDeployedDigestIsNeverADeletedChild(t *testing.T) {
	index, child := dig(1), dig(2)
	repo := Repository{Name: "app", Tags: []Tag{{Name: "old", Digest: index}},
		Links: Links{Children: map[string][]string{index: {child}}}}
	pinned := Image{Reference: "reg/app@" + child, Repository: "app", Digest: child}
	// The index is tagged, so the pinned child keeps it: nothing goes.
	if out := Evaluate(repo, Policy{Delete: []DeleteRule{{}}, Images: []Image{pinned}}, testNow); len(out.Decisions) != 0 {
		t.Fatalf("deleted:\n%s", showDecisions(out.Decisions))
	}
	// Pinned but kept alive only by being pinned: a rule keeping the tag
	// by name does not matter, the child is a root of its own.
	out := decisions(repo, repo.Tags, nil, map[string]int{"old": 0}, []string{child}, Policy{Delete: []DeleteRule{{}}})
	if len(out) != 1 || len(out[0].Children) != 0 {
		t.Fatalf("the pinned child goes with its index:\n%s", showDecisions(out))
	}
}
