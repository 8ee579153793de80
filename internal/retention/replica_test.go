package retention

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// deletedDigests lists every digest a replica plan deletes, sorted.
func (p ReplicaPlan) deletedDigests() []string {
	var out []string
	for _, m := range p.Manifests {
		out = append(out, m.Digest)
		out = append(out, m.Children...)
		out = append(out, m.Referrers...)
	}
	slices.Sort(out)
	return out
}

func primaryDeletes(decisions []Decision) []string {
	var out []string
	for _, d := range decisions {
		if d.Action == DeleteManifest {
			out = append(out, d.Digest)
			out = append(out, d.Children...)
			out = append(out, d.Referrers...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func withTags(r Repository, tags ...Tag) Repository {
	r.Tags = append(slices.Clone(r.Tags), tags...)
	return r
}

func withoutTags(r Repository, names ...string) Repository {
	r.Tags = slices.DeleteFunc(slices.Clone(r.Tags), func(t Tag) bool { return slices.Contains(names, t.Name) })
	return r
}

// A replica follows its primary's decisions, by digest, and never goes
// further: on the same content it deletes exactly what the primary does;
// what it holds that the decisions do not name stays.
func TestReplicaFollowsItsPrimary(t *testing.T) {
	primary := explicitRepo(false)
	everything := Policy{Keep: []KeepRule{{Tags: []string{"v2"}}}, Delete: []DeleteRule{{}}, DeleteReferrers: true}
	decisions := Evaluate(primary, everything, time.Now()).Decisions
	if len(primaryDeletes(decisions)) == 0 {
		t.Fatal("the primary deletes nothing: the test proves nothing")
	}
	hotfix := dig(0xf)
	for _, tc := range []struct {
		name    string
		replica Repository
		deleted []string // nil: what the primary deletes
		untag   []string
		kept    string // a Kept entry contains it
	}{
		{name: "the same content", replica: primary},
		{name: "an image only on the replica stays", replica: withTags(primary, Tag{Name: "hotfix", Digest: hotfix})},
		{name: "a mirror behind: a tag still on an image the primary deletes keeps it there, other tags on it go",
			replica: withTags(withoutTags(primary, "v2"), Tag{Name: "v2", Digest: imgA}),
			deleted: without(primaryDeletes(decisions), imgA, sigA), untag: []string{"latest", "v1.9"}, kept: imgA + ": kept on the replica: tagged v2"},
		{name: "an attestation only on the replica keeps its image, and the image its signature",
			replica: withTags(primary, Tag{Name: referrer(imgA, ".att"), Digest: dig(0x5b)}),
			deleted: without(primaryDeletes(decisions), imgA, sigA), untag: []string{"latest", "v1.9"}, kept: referrer(imgA, ".att") + ", which the primary does not remove"},
		{name: "an index only on the replica keeps the child it shares",
			replica: withTags(primary, Tag{Name: "replica-index", Digest: index2}),
			deleted: without(primaryDeletes(decisions), index2, child2), untag: []string{"multi-old"}, kept: index2},
		{name: "a tag the primary removes from another digest stays",
			replica: withTags(withoutTags(primary, "latest"), Tag{Name: "latest", Digest: imgB}),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := tc.replica.FollowPrimary(decisions)
			want := tc.deleted
			if want == nil {
				want = primaryDeletes(decisions)
			}
			if got := plan.deletedDigests(); !slices.Equal(got, want) {
				t.Errorf("deletes %q, want %q", got, want)
			}
			if got := slices.Sorted(maps.Keys(plan.Untag)); !slices.Equal(got, tc.untag) && (len(got) > 0 || len(tc.untag) > 0) {
				t.Errorf("untags %q, want %q", got, tc.untag)
			}
			if tc.kept != "" && !slices.ContainsFunc(plan.Kept, func(k string) bool { return strings.Contains(k, tc.kept) }) {
				t.Errorf("kept %q; want one naming %q", plan.Kept, tc.kept)
			}
			assertNothingKeptDeleted(t, tc.replica, plan, decisions)
		})
	}
}

func without(list []string, values ...string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(v string) bool { return slices.Contains(values, v) })
}

// assertNothingKeptDeleted: no digest the primary keeps is deleted, and
// every tag left on the replica still reaches everything it reached.
func assertNothingKeptDeleted(t *testing.T, replica Repository, plan ReplicaPlan, decisions []Decision) {
	t.Helper()
	primaryGoing := map[string]bool{}
	for _, d := range primaryDeletes(decisions) {
		primaryGoing[d] = true
	}
	going := map[string]bool{}
	removedTags := map[string]bool{}
	for _, d := range plan.deletedDigests() {
		going[d] = true
		if !primaryGoing[d] {
			t.Errorf("the replica deletes %s, which the primary keeps", d)
		}
	}
	for _, m := range plan.Manifests {
		for _, tag := range m.Tags {
			removedTags[tag] = true
		}
	}
	for tag := range plan.Untag {
		removedTags[tag] = true
	}
	for _, tag := range replica.Tags {
		if removedTags[tag.Name] {
			continue
		}
		for d := range replica.Keep([]string{tag.Digest}, nil) {
			if going[d] {
				t.Errorf("tag %s stays but %s, which it uses, is deleted", tag.Name, d)
			}
		}
	}
}
