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
		{"http", "127.0.0.1:5000", []string{"127.0.0.1:5000", "localhost:5000"}, []string{"localhost:5001", "127.0.0.1"}},
		{"http", "reg.lan", []string{"reg.lan:80", "reg.lan"}, []string{"reg.lan:443", "reg.lan:5000"}},
	} {
		hosts := NewHosts(tc.scheme, tc.host, nil)
		for _, m := range tc.matches {
			if !hosts.Names(m) {
				t.Errorf("%s://%s: %s should name it", tc.scheme, tc.host, m)
			}
		}
		for _, m := range tc.misses {
			if hosts.Names(m) {
				t.Errorf("%s://%s: %s should not name it", tc.scheme, tc.host, m)
			}
		}
	}
}

// TestParseImagesHostSpellings: a reference names the registry however it
// spells the host, as Docker and containerd resolve it (issue 30).
func TestParseImagesHostSpellings(t *testing.T) {
	for _, tc := range []struct {
		scheme, host string
		aliases      []string
		ours         []string // image references naming the registry
		foreign      []string // and others
	}{
		{"http", "reg.internal", nil,
			[]string{"reg.internal/team/api:v1", "reg.internal:80/team/api:v1", "REG.Internal/team/api:v1"},
			[]string{"reg.internal:443/team/api:v1", "reg.internal:5000/team/api:v1", "reg.internal.example/team/api:v1"}},
		{"http", "reg.internal:80", nil,
			[]string{"reg.internal/team/api:v1", "reg.internal:80/team/api:v1"}, []string{"reg.internal:8080/team/api:v1"}},
		{"https", "reg.internal", nil,
			[]string{"reg.internal/team/api:v1", "reg.internal:443/team/api:v1"}, []string{"reg.internal:80/team/api:v1"}},
		{"https", "REG.internal:443", nil,
			[]string{"reg.internal/team/api:v1", "Reg.Internal:443/team/api:v1"}, []string{"reg.internal:5000/team/api:v1"}},
		{"http", "localhost:5000", nil,
			[]string{"localhost:5000/app:v1", "127.0.0.1:5000/app:v1", "[::1]:5000/app:v1", "LOCALHOST:5000/app:v1"},
			[]string{"localhost:5001/app:v1", "127.0.0.1/app:v1", "localhost/app:v1", "127.0.0.2:5000/app:v1", "[::2]:5000/app:v1"}},
		{"http", "127.0.0.1:5000", nil,
			[]string{"localhost:5000/app:v1", "127.0.0.1:5000/app:v1", "[::1]:5000/app:v1"}, []string{"127.0.0.1:5001/app:v1"}},
		{"http", "[::1]:5000", nil,
			[]string{"localhost:5000/app:v1", "127.0.0.1:5000/app:v1", "[::1]:5000/app:v1", "[0:0:0:0:0:0:0:1]:5000/app:v1"}, nil},
		{"http", "127.0.0.1", nil, // port 80
			[]string{"localhost/app:v1", "127.0.0.1:80/app:v1", "[::1]/app:v1", "[::1]:80/app:v1"}, []string{"localhost:443/app:v1"}},
		// Aliases follow the same rules, under the url's scheme.
		{"http", "10.0.0.5:5000", []string{"Reg.Internal", "::1", "mirror.lan:443"},
			[]string{"reg.internal/app:v1", "reg.internal:80/app:v1", "localhost/app:v1", "127.0.0.1:80/app:v1", "mirror.lan:443/app:v1"},
			[]string{"reg.internal:443/app:v1", "localhost:5000/app:v1", "mirror.lan/app:v1"}},
		{"https", "reg.example.com", []string{"reg.internal", "localhost:5000", "index.docker.io"},
			[]string{"reg.internal:443/app:v1", "reg.internal/app:v1", "127.0.0.1:5000/app:v1", "[::1]:5000/app:v1", "nginx:1.27", "index.docker.io/library/nginx:1.27"},
			[]string{"reg.internal:80/app:v1", "localhost/app:v1"}},
		// Without a url (GC-only configurations), an alias without a port
		// means 443, where runtimes pull by default.
		{"", "", []string{"reg.internal", "127.0.0.1:5000"},
			[]string{"reg.internal/app:v1", "reg.internal:443/app:v1", "localhost:5000/app:v1"},
			[]string{"reg.internal:80/app:v1", "localhost/app:v1"}},
	} {
		hosts := NewHosts(tc.scheme, tc.host, tc.aliases)
		for _, ref := range tc.ours {
			if mine, _, err := ParseImages([]string{ref}, hosts); err != nil || len(mine) != 1 {
				t.Errorf("%s://%s aliases %q: %s should name it (%v)", tc.scheme, tc.host, tc.aliases, ref, err)
			}
		}
		for _, ref := range tc.foreign {
			if _, others, err := ParseImages([]string{ref}, hosts); err != nil || others != 1 {
				t.Errorf("%s://%s aliases %q: %s should not name it (%v)", tc.scheme, tc.host, tc.aliases, ref, err)
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
	out := ruleDecisions(repo, repo.Tags, nil, map[string]int{"old": 0}, map[string][]string{child: {pinned.Reference}}, Policy{Delete: []DeleteRule{{}}})
	if len(out) != 1 || len(out[0].Children) != 0 {
		t.Fatalf("the pinned child goes with its index:\n%s", showDecisions(out))
	}
}

func TestValidateHost(t *testing.T) {
	for _, ok := range []string{"reg.example.com", "reg.example.com:5000", "localhost", "127.0.0.1:5000", "[::1]:5000", "::1"} {
		if err := ValidateHost(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"reg.example.com/team", "reg.example.com:", "https://reg.example.com", ""} {
		if ValidateHost(bad) == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestForeignHosts(t *testing.T) {
	d := dig(7)
	hosts := NewHosts("http", "reg.internal", []string{"mirror.lan:5000"})
	got, err := ForeignHosts([]string{"reg.internal/app:v1", "REG.internal:80/app@" + d, "mirror.lan:5000/app:v1", d,
		"ghcr.io/org/app:v1", "GHCR.io/org/other:v2", "nginx:1.27", "mirror.lan/app:v1", "docker-pullable://reg.internal:443/app@" + d}, hosts)
	if want := []string{"docker.io", "ghcr.io", "mirror.lan", "reg.internal:443"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ForeignHosts = %q, %v; want %q", got, err, want)
	}
	if got, err := ForeignHosts([]string{"reg.internal/app:v1"}, nil); err != nil || !reflect.DeepEqual(got, []string{"reg.internal"}) {
		t.Fatalf("with no names, ForeignHosts = %q, %v", got, err)
	}
	if _, err := ForeignHosts([]string{"reg.internal/App:v1"}, hosts); err == nil || !strings.Contains(err.Error(), "is not an image reference") {
		t.Fatalf("err = %v", err)
	}
}
