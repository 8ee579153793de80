package retention

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"
)

// What an apply of FuzzDecide's plan may do once the repository changed
// between the plan and the apply (other clients pushed, retagged, signed,
// deleted; time passed): Permitted, checked against an oracle of its own.

// changed returns repo as an apply finds it later: up to 7 changes by
// other clients (tags added, moved and removed, created times changed, an
// index pushed over planned digests, an attestation or signature of a
// planned digest, an untagged index that a deployment pins pushed), and
// how much time passed. Deployed images it adds go to policy: they were
// in the configuration at plan time already, pinning a digest that the
// registry did not hold yet. No input bytes left: nothing changes.
func (in *fuzzInput) changed(repo Repository, policy *Policy) (Repository, time.Duration) {
	repo.Tags = slices.Clone(repo.Tags)
	repo.Links = Links{Children: maps.Clone(repo.Children), Subjects: maps.Clone(repo.Subjects)}
	created := map[string]time.Time{}
	var digests []string // every digest of the repository, tagged or not
	for _, t := range repo.Tags {
		created[t.Digest] = t.Created
		digests = appendNew(digests, t.Digest)
	}
	for index, children := range repo.Children {
		digests = appendNew(appendNew(digests, index), children...)
	}
	if len(digests) == 0 {
		digests = []string{dig(1)} // the first image, which no tag reached
	}
	slices.Sort(digests)
	setTag := func(name, digest string) {
		repo.Tags = slices.DeleteFunc(repo.Tags, func(t Tag) bool { return t.Name == name })
		repo.Tags = append(repo.Tags, Tag{Name: name, Digest: digest, Created: created[digest]})
	}
	var passed time.Duration
	for i := range in.intn(8) {
		pushed := dig(401 + i) // a manifest other clients push
		switch in.intn(8) {
		case 0: // a tag pushed onto a digest, maybe a new image
			digest := pick(in, append(slices.Clone(digests), pushed))
			if digest == pushed {
				created[pushed] = in.age()
				digests = append(digests, pushed)
			}
			setTag(pick(in, fuzzWords)+"-"+fmt.Sprint(in.intn(4)), digest)
		case 1: // a tag moved onto another digest
			if len(repo.Tags) > 0 {
				setTag(pick(in, repo.Tags).Name, pick(in, digests))
			}
		case 2: // a tag removed
			if len(repo.Tags) > 0 {
				name := pick(in, repo.Tags).Name
				repo.Tags = slices.DeleteFunc(repo.Tags, func(t Tag) bool { return t.Name == name })
			}
		case 3: // an image's created time read otherwise (unknown, or the 1970 epoch read as unknown)
			digest := pick(in, digests)
			created[digest] = in.age()
			for j, t := range repo.Tags {
				if t.Digest == digest {
					repo.Tags[j].Created = created[digest]
				}
			}
		case 4: // an index pushed over digests of the repository, tagged
			repo.Children[pushed] = []string{pick(in, digests), pick(in, digests)}
			digests = append(digests, pushed)
			setTag("index-"+fmt.Sprint(in.intn(3)), pushed)
		case 5: // an attestation naming a digest as its subject, tagged
			if repo.Subjects == nil {
				repo.Subjects = map[string]string{}
			}
			repo.Subjects[pushed] = pick(in, digests)
			digests = append(digests, pushed)
			setTag("provenance-"+fmt.Sprint(in.intn(2)), pushed)
		case 6: // a signature of a digest, under its fallback tag
			setTag(referrer(pick(in, digests), pick(in, fuzzSuffixes)), pushed)
			digests = append(digests, pushed)
		case 7: // a deployed untagged index sharing children with the plan's
			repo.Children[pushed] = []string{pick(in, digests)}
			policy.Images = append(policy.Images, Image{Reference: "deployed later", Repository: repo.Name, Digest: pushed})
			digests = append(digests, pushed)
		}
		passed += time.Duration(in.intn(4)) * 12 * time.Hour
	}
	return repo, passed
}

// age is a created time, or unknown age.
func (in *fuzzInput) age() time.Time {
	if age := in.intn(40); age > 0 {
		return ago(time.Duration(age-4) * 12 * time.Hour)
	}
	return time.Time{}
}

// checkPermitted checks what an apply at now may do of the plan made on
// planned, on repo as the apply finds it: it deletes (digests, and tags
// with their digest or alone) only what both the plan and the policy
// evaluated on repo at now delete (a tag from the digest it points at
// now: one moved since the plan is not the plan's to remove), nothing
// the policy then keeps (tags a
// keep rule or a deployed image keeps; what remaining tags, staying
// referrer tags and deployed images reach), and all of the plan when
// nothing changed.
func checkPermitted(t *testing.T, planned Repository, repo Repository, p Policy, now time.Time, plan []Decision) {
	t.Helper()
	got := Permitted(plan, repo, p, now)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\nplanned on:\n%sapplied on (%s later):\n%spolicy:\n%splan:\n%spermitted:\n%s", fmt.Sprintf(format, args...),
			showRepository(planned), now.Sub(testNow), showRepository(repo), showPolicy(p), showDecisions(plan), showDecisions(got))
	}
	if reflect.DeepEqual(planned, repo) && now.Equal(testNow) && !reflect.DeepEqual(got, plan) {
		fail("nothing changed, but the apply may not do all of the plan")
	}
	atApply := Evaluate(repo, p, now).Decisions
	byPlan, byPolicy := oracleDeletions(plan), oracleDeletions(atApply)

	// What the apply's DELETEs take: the digests it deletes, every tag on
	// them, and the tags it removes by name.
	deleted, gone := map[string]bool{}, map[string]bool{}
	for _, d := range got {
		if d.Action == DeleteManifest {
			deleted[d.Digest] = true
			for _, digest := range append(slices.Clone(d.Children), d.Referrers...) {
				deleted[digest] = true
			}
		} else {
			for _, name := range d.Tags {
				gone[name] = true
			}
		}
	}
	for _, tg := range repo.Tags {
		if deleted[tg.Digest] {
			gone[tg.Name] = true
		}
	}
	for _, digest := range slices.Sorted(maps.Keys(deleted)) {
		if !byPlan.digests[digest] || !byPolicy.digests[digest] {
			fail("%s deleted: the plan deletes it %v, the policy at apply time %v", short(digest), byPlan.digests[digest], byPolicy.digests[digest])
		}
	}
	kept := keptByPolicy(repo, p, now)
	maps.Copy(kept, keptByImages(repo, p.Images))
	digestOf := map[string]string{}
	for _, tg := range repo.Tags {
		digestOf[tg.Name] = tg.Digest
	}
	for _, name := range slices.Sorted(maps.Keys(gone)) {
		on := digestOf[name]
		plans, policy := slices.Contains(byPlan.tags[name], on), slices.Contains(byPolicy.tags[name], on)
		switch {
		case !plans || !policy:
			fail("tag %q removed from %s: the plan removes it from there %v, the policy at apply time %v", name, short(on), plans, policy)
		case kept[name]:
			fail("tag %q removed, but the policy at apply time keeps it", name)
		}
	}
	survivors := survivorsAfter(repo, p.Images, func(tag string) bool { return gone[tag] })
	for _, digest := range slices.Sorted(maps.Keys(deleted)) {
		if survivors[digest] {
			fail("%s deleted, but what stays at apply time (a tag, an index, a subject's user, a deployed image) needs it", short(digest))
		}
	}
}

// oracleSets are the digests decisions delete, and the tags they remove
// with the digests they remove them from, as the oracle counts them: an
// untag's tags from its digest, a manifest deletion's from any digest it
// deletes.
type oracleSets struct {
	digests map[string]bool
	tags    map[string][]string
}

func oracleDeletions(decisions []Decision) oracleSets {
	s := oracleSets{digests: map[string]bool{}, tags: map[string][]string{}}
	for _, d := range decisions {
		from := []string{d.Digest}
		if d.Action == DeleteManifest {
			from = append(from, d.Children...)
			from = append(from, d.Referrers...)
			for _, digest := range from {
				s.digests[digest] = true
			}
		}
		for _, name := range d.Tags {
			s.tags[name] = append(s.tags[name], from...)
		}
	}
	return s
}
