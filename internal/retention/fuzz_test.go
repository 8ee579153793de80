package retention

import (
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
)

// FuzzDecide decodes its input into a small repository and a policy, and
// checks what Decide must never do, whatever the policy; then into changes
// other clients make before the apply, and checks what Permitted lets the
// apply do: deletions within plan ∩ policy(at apply), nothing kept then.
//
//	go test -run='^$' -fuzz=FuzzDecide -fuzztime=60s ./internal/retention/
func FuzzDecide(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("keep the newest three by semver, delete the rest"))
	// Keep the newest 3 by semver, delete the rest, referrers follow. Five
	// digests, one of unknown age; the first an index over an untagged
	// child and the third digest; a signature of the index and an
	// attestation (an OCI fallback index) of the untagged child; 8 tags.
	f.Add([]byte{
		1, 1, 4, 2, 2, 0, 0, // policy
		4, 10, 20, 0, 30, 5, // digests and ages
		0, 1, 0, 0, 1, 2, 1, 1, 1, 1, // children
		2, 0, 3, 1, 1, 5, 1, 0, 0, 4, 2, // referrers
		8, 0, 1, 2, 0, 0, 0, 2, 0, 0, 1, 0, 1, 10, 1, 1, 2, 1, 3, 3, 5, 12, 0, 0, 0, 9, 0, 2, 2, 0, 4, 0, 1, 3, 0, 4, // tags
	})
	// Keep main and what is newer than 3 days; delete pr- tags and what is
	// older than 7 days. Three digests (8 days old, a day old, unknown age),
	// the first an index over the second, which has a signature; 6 tags.
	f.Add([]byte{
		0, 2, 1, 0, 1, 8, 3, 1, 1, 1, 2, 4, // policy
		2, 20, 6, 0, // digests and ages
		0, 0, 0, 1, 1, 1, // children
		1, 1, 4, 0, 1, 1, // referrers
		6, 2, 1, 0, 3, 5, 2, 1, 3, 6, 3, 2, 0, 0, 0, 0, 0, 2, 3, 0, 1, 1, 0, 0, 1, 1, // tags
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{data: data}
		policy := in.policy() // first: short inputs get rules too
		repo := in.repository()
		policy.Images = in.images(repo) // then: the seeds above stay as they were
		applied, passed := in.changed(repo, &policy)
		out := Evaluate(repo, policy, testNow)
		got := out.Decisions
		checkDecisions(t, repo, policy, got)
		checkKeptUnknownAge(t, repo, policy, out)
		checkPermitted(t, repo, applied, policy, testNow.Add(passed), got)
		if again := Evaluate(repo, policy, testNow).Decisions; !reflect.DeepEqual(again, got) {
			t.Fatalf("second run differs:\n%swas:\n%s", showDecisions(again), showDecisions(got))
		}
		shuffled := repo
		shuffled.Tags = slices.Clone(repo.Tags)
		h := fnv.New64a()
		h.Write(data)
		rng := rand.New(rand.NewPCG(h.Sum64(), 7))
		rng.Shuffle(len(shuffled.Tags), func(i, j int) { shuffled.Tags[i], shuffled.Tags[j] = shuffled.Tags[j], shuffled.Tags[i] })
		if again := Evaluate(shuffled, policy, testNow).Decisions; !reflect.DeepEqual(again, got) {
			t.Fatalf("shuffled tags give other decisions:\n%swas:\n%s", showDecisions(again), showDecisions(got))
		}
		checkReplica(t, in.replicaOf(repo), got)
	})
}

// replicaOf is a replica of repo as a mirror may hold it: some tags not
// copied yet, some still on another of the repository's manifests (moved
// on the primary since), some of its own.
func (in *fuzzInput) replicaOf(repo Repository) Repository {
	replica := repo
	replica.Tags = nil
	var digests []string
	for _, t := range repo.Tags {
		digests = append(digests, t.Digest)
	}
	for _, t := range repo.Tags {
		switch in.intn(4) {
		case 0: // not copied yet
		case 1: // still where it was
			if len(digests) > 0 {
				t.Digest = pick(in, digests)
			}
			replica.Tags = append(replica.Tags, t)
		default:
			replica.Tags = append(replica.Tags, t)
		}
	}
	for i := range in.intn(3) {
		if len(digests) > 0 {
			replica.Tags = append(replica.Tags, Tag{Name: fmt.Sprintf("replica-only-%d", i), Digest: pick(in, digests)})
		}
	}
	return replica
}

// checkReplica: a replica following the primary's decisions deletes only
// what they delete, removes a tag only from the digest they remove it
// from, and leaves every tag that stays with all it reaches.
func checkReplica(t *testing.T, replica Repository, decisions []Decision) {
	t.Helper()
	plan := replica.FollowPrimary(decisions)
	assertNothingKeptDeleted(t, replica, plan, decisions)
	removedFrom := map[string]map[string]bool{} // digest -> tags the primary removes from it
	for _, d := range decisions {
		if removedFrom[d.Digest] == nil {
			removedFrom[d.Digest] = map[string]bool{}
		}
		for _, tag := range d.Tags {
			removedFrom[d.Digest][tag] = true
		}
	}
	onReplica := map[string]string{}
	for _, tag := range replica.Tags {
		onReplica[tag.Name] = tag.Digest
	}
	check := func(tag string) {
		if !IsReferrerTag(tag) && !removedFrom[onReplica[tag]][tag] {
			t.Errorf("the replica removes %s from %s, which the primary does not remove it from\n%s", tag, onReplica[tag], showDecisions(decisions))
		}
	}
	for tag := range plan.Untag {
		check(tag)
	}
	for _, m := range plan.Manifests {
		for _, tag := range m.Tags {
			check(tag)
		}
	}
}

// images deploys up to two of repo's tags or digests, or an index child.
func (in *fuzzInput) images(repo Repository) []Image {
	var images []Image
	for range in.intn(3) {
		if len(repo.Tags) == 0 {
			break
		}
		t := pick(in, repo.Tags)
		image := Image{Reference: "deployed", Repository: repo.Name}
		switch children := repo.Children[t.Digest]; {
		case in.intn(3) == 0:
			image.Tag = t.Name
		case len(children) > 0 && in.intn(2) == 0:
			image.Digest = pick(in, children)
		default:
			image.Digest = t.Digest
		}
		images = append(images, image)
	}
	// An index no tag points at, as a pod's imageID names one whose tag
	// has moved on (3, so that seeds ending before it stay as they were).
	if in.intn(4) == 3 {
		if untagged := untaggedIndexes(repo); len(untagged) > 0 {
			images = append(images, Image{Reference: "deployed", Repository: repo.Name, Digest: pick(in, untagged)})
		}
	}
	return images
}

// untaggedIndexes returns, sorted, the indexes of repo that no tag points at.
func untaggedIndexes(repo Repository) []string {
	tagged := map[string]bool{}
	for _, t := range repo.Tags {
		tagged[t.Digest] = true
	}
	var out []string
	for index := range repo.Children {
		if !tagged[index] {
			out = append(out, index)
		}
	}
	slices.Sort(out)
	return out
}

// fuzzInput hands out the fuzz bytes, then zeros.
type fuzzInput struct{ data []byte }

func (in *fuzzInput) byte() byte {
	if len(in.data) == 0 {
		return 0
	}
	b := in.data[0]
	in.data = in.data[1:]
	return b
}

func (in *fuzzInput) intn(n int) int { return int(in.byte()) % n }

func pick[T any](in *fuzzInput, from []T) T { return from[in.intn(len(from))] }

var (
	fuzzWords     = []string{"latest", "main", "dev", "stable", "nightly", "pr-7", "pr-12", "release-1", "release-2", "feature-x", "sha-abc", "v", "1.0", "x"}
	fuzzRegexps   = []string{`^v?\d+\.\d+\.\d+$`, `^pr-`, `^v`, `dev`, `^(main|latest)$`, `.*`, `^release-`, `x`, `^$`, `^1\.`, `rc`, `-`, `^sha`}
	fuzzDurations = []time.Duration{time.Hour, 12 * time.Hour, day, 3 * day, 7 * day, 30 * day, 90 * day}
	fuzzOrders    = []Order{"", ByName, BySemver, ByCreated}
	fuzzSuffixes  = []string{"", ".sig", ".att", ".sbom"}
)

// repository builds up to 10 digests (some indexes, whose children are
// untagged digests or other digests), up to 5 referrer tags (mostly of
// existing digests) and up to 30 tags on the digests.
func (in *fuzzInput) repository() Repository {
	repo := Repository{Name: "fuzz", Links: Links{Children: map[string][]string{}}}
	digests := make([]string, 1+in.intn(10))
	created := map[string]time.Time{}
	for i := range digests {
		digests[i] = dig(i + 1)
		if age := in.intn(40); age > 0 { // 0: unknown age
			created[digests[i]] = ago(time.Duration(age-4) * 12 * time.Hour) // a few in the future
		}
	}
	untaggedChildren := []string{dig(101), dig(102), dig(103), dig(104), dig(105), dig(106)}
	for i, d := range digests {
		if in.intn(3) != 0 {
			continue
		}
		for range 1 + in.intn(3) {
			// Untagged children, or tagged digests after this one (a nested
			// index, or an image that also has a tag): never a cycle.
			child := untaggedChildren[in.intn(len(untaggedChildren))]
			if k := in.intn(len(digests) + 2); i < k && k < len(digests) {
				child = digests[k]
			}
			if !slices.Contains(repo.Children[d], child) {
				repo.Children[d] = append(repo.Children[d], child)
			}
		}
	}
	seen := map[string]bool{}
	add := func(name, digest string, c time.Time) {
		if name != "" && !seen[name] {
			seen[name] = true
			repo.Tags = append(repo.Tags, Tag{Name: name, Digest: digest, Created: c})
		}
	}
	subjects := append(slices.Clone(digests), untaggedChildren[:3]...)
	subjects = append(subjects, dig(999)) // not in the repository
	for i := range in.intn(6) {
		subject := pick(in, subjects)
		digest := dig(201 + i)
		switch in.intn(8) {
		case 0: // a referrer that is also something else in the repository
			digest = pick(in, append(slices.Clone(digests), untaggedChildren...))
		case 1, 2: // the OCI fallback index lists the referrers
			repo.Children[digest] = []string{dig(301 + i), pick(in, []string{dig(302 + i), dig(301)})}
		}
		var c time.Time
		if in.intn(2) == 0 {
			c = ago(time.Duration(in.intn(100)) * 12 * time.Hour)
		}
		add(referrer(subject, pick(in, fuzzSuffixes)), digest, c)
	}
	for range in.intn(31) {
		var name string
		switch in.intn(4) {
		case 0:
			name = fmt.Sprintf("%d.%d.%d", in.intn(3), in.intn(12), in.intn(3))
		case 1:
			name = fmt.Sprintf("v%d.%d.%d", in.intn(3), in.intn(12), in.intn(3))
			if in.intn(4) == 0 {
				name += "-rc." + fmt.Sprint(in.intn(3))
			}
		case 2:
			name = pick(in, fuzzWords)
		default:
			name = pick(in, fuzzWords) + "-" + fmt.Sprint(in.intn(20))
		}
		d := pick(in, digests)
		add(name, d, created[d])
	}
	// Some manifests name a subject in their body (tagged attestations),
	// and some subjects of referrer tags are gone from the registry.
	repo.Subjects = map[string]string{}
	for range in.intn(3) {
		repo.Subjects[pick(in, digests)] = pick(in, subjects)
	}
	if in.intn(2) == 0 {
		repo.GoneSubjects = map[string]bool{dig(999): true}
	}
	return repo
}

// policy builds 0-3 keep rules and 1-3 delete rules; keep rules' exact
// tags are names the repository may have, referrer tags included.
func (in *fuzzInput) policy() Policy {
	names := append(slices.Clone(fuzzWords), "1.0.0", "v1.2.0", "main-3", "missing", referrer(dig(1), ".sig"), referrer(dig(2), ""))
	var p Policy
	p.DeleteReferrers = in.intn(2) == 1
	for range in.intn(4) {
		var k KeepRule
		flags := in.byte()
		if flags&1 != 0 {
			for range 1 + in.intn(3) {
				k.Tags = append(k.Tags, pick(in, names))
			}
		}
		if flags&2 != 0 {
			k.TagRegex = regexp.MustCompile(pick(in, fuzzRegexps))
		}
		if flags&4 != 0 {
			k.Newest = 1 + in.intn(5)
			k.OrderBy = pick(in, fuzzOrders)
		}
		if flags&8 != 0 {
			k.NewerThan = pick(in, fuzzDurations)
		}
		p.Keep = append(p.Keep, k)
	}
	for range 1 + in.intn(3) {
		var d DeleteRule
		flags := in.byte()
		if flags&1 != 0 {
			d.TagRegex = regexp.MustCompile(pick(in, fuzzRegexps))
		}
		if flags&2 != 0 {
			d.OlderThan = pick(in, fuzzDurations)
		}
		p.Delete = append(p.Delete, d)
	}
	return p
}

// keptByPolicy recomputes, rule by rule and without Sort, the tags that a
// keep rule keeps. Referrer tags are never kept by a rule.
func keptByPolicy(repo Repository, p Policy, now time.Time) map[string]bool {
	var tags []Tag
	for _, t := range repo.Tags {
		if !IsReferrerTag(t.Name) {
			tags = append(tags, t)
		}
	}
	kept := map[string]bool{}
	for _, k := range p.Keep {
		for _, t := range tags {
			if slices.Contains(k.Tags, t.Name) {
				kept[t.Name] = true
			}
		}
		if k.TagRegex == nil && k.Newest == 0 && k.NewerThan == 0 {
			continue
		}
		var matching []Tag
		for _, t := range tags {
			if k.TagRegex == nil || k.TagRegex.MatchString(t.Name) {
				matching = append(matching, t)
			}
		}
		for _, t := range matching {
			ahead := 0 // matching tags ranked before t
			for _, u := range matching {
				if ranksAhead(u, t, k.OrderBy) {
					ahead++
				}
			}
			byNewest := k.Newest > 0 && ahead < k.Newest
			byAge := k.NewerThan > 0 && (t.Created.IsZero() || now.Sub(t.Created) < k.NewerThan) // unknown age: kept
			if (k.Newest == 0 && k.NewerThan == 0) || byNewest || byAge {
				kept[t.Name] = true
			}
		}
	}
	return kept
}

// ranksAhead reports whether a is newer than b by order: the highest
// version, the newest image (known age before unknown), the greatest name;
// ties by name, ascending.
func ranksAhead(a, b Tag, order Order) bool {
	switch order {
	case BySemver:
		va, errA := semver.NewVersion(a.Name)
		vb, errB := semver.NewVersion(b.Name)
		switch {
		case errA == nil && errB != nil:
			return true
		case errA != nil && errB == nil:
			return false
		case errA == nil && !va.Equal(vb):
			return va.GreaterThan(vb)
		}
	case ByName:
		return a.Name > b.Name
	default:
		switch {
		case !a.Created.IsZero() && b.Created.IsZero():
			return true
		case a.Created.IsZero() && !b.Created.IsZero():
			return false
		case !a.Created.Equal(b.Created):
			return a.Created.After(b.Created)
		}
	}
	return a.Name < b.Name
}

// deletedByPolicy returns the first delete rule that matches a tag, if any.
func deletedByPolicy(t Tag, p Policy, now time.Time) (int, bool) {
	for i, d := range p.Delete {
		regexOK := d.TagRegex == nil || d.TagRegex.MatchString(t.Name)
		ageOK := d.OlderThan == 0 || (!t.Created.IsZero() && now.Sub(t.Created) > d.OlderThan)
		if regexOK && ageOK {
			return i, true
		}
	}
	return 0, false
}

// checkDecisions checks the invariants of the decisions for repo.
func checkDecisions(t *testing.T, repo Repository, p Policy, got []Decision) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\nrepository:\n%spolicy:\n%sdecisions:\n%s", fmt.Sprintf(format, args...), showRepository(repo), showPolicy(p), showDecisions(got))
	}
	tagOf := map[string]Tag{}
	for _, tg := range repo.Tags {
		tagOf[tg.Name] = tg
	}
	kept := keptByPolicy(repo, p, testNow)
	maps.Copy(kept, keptByImages(repo, p.Images))
	checkDeployedStay(fail, repo, p.Images, got)

	// Every removed tag is real and removed once; decisions are sorted by
	// digest, one per digest.
	removedBy := map[string]Decision{}
	for i, d := range got {
		if i > 0 && got[i-1].Digest >= d.Digest {
			fail("decisions not sorted by digest, or a digest twice: %s then %s", got[i-1].Digest, d.Digest)
		}
		if len(d.Tags) == 0 || d.Reason == "" || d.Repository != repo.Name {
			fail("decision for %s without tags, reason or repository", d.Digest)
		}
		if d.Action != DeleteManifest && d.Action != Untag {
			fail("decision for %s has action %q", d.Digest, d.Action)
		}
		for _, name := range d.Tags {
			if _, ok := tagOf[name]; !ok {
				fail("%s removes tag %q, which is not in the repository", d.Digest, name)
			}
			if other, dup := removedBy[name]; dup {
				fail("tag %q removed by both %s and %s", name, other.Digest, d.Digest)
			}
			removedBy[name] = d
		}
	}

	// The tags removed by rules are exactly those that no keep rule keeps and
	// some delete rule matches (a): kept tags are never removed.
	for _, tg := range repo.Tags {
		d, removed := removedBy[tg.Name]
		if IsReferrerTag(tg.Name) {
			if removed && d.Action == Untag {
				fail("referrer tag %q in an untag decision", tg.Name) // (g)
			}
			if removed && !p.DeleteReferrers {
				fail("referrer tag %q removed without DeleteReferrers", tg.Name)
			}
			continue
		}
		rule, matched := deletedByPolicy(tg, p, testNow)
		want := !kept[tg.Name] && matched
		switch {
		case removed && kept[tg.Name]:
			fail("kept tag %q removed by %s", tg.Name, d.Digest)
		case removed && !want:
			fail("tag %q removed by %s, but no delete rule matches it", tg.Name, d.Digest)
		case !removed && want:
			fail("tag %q neither kept nor removed, but a delete rule matches it", tg.Name)
		case removed && d.Digest != tg.Digest:
			fail("tag %q on %s removed by the decision for %s", tg.Name, tg.Digest, d.Digest)
		case removed && !strings.Contains(d.Reason, p.Delete[rule].describe(rule)):
			fail("tag %q removed by %s, whose reason does not name delete[%d]", tg.Name, d.Digest, rule)
		}
	}

	survivors := survivorsAfter(repo, p.Images, func(tag string) bool { _, removed := removedBy[tag]; return removed })
	// What goes: manifests, children and referrers (b, c), each once in a
	// decision.
	deleted := map[string]bool{}
	deletedSubjects := map[string]bool{} // manifests, index children and referrers (review 48: any depth)
	for _, d := range got {
		var digests []string
		if d.Action == DeleteManifest {
			digests = append(append(append(digests, d.Digest), d.Children...), d.Referrers...)
			for _, gone := range digests {
				deletedSubjects[gone] = true
			}
		} else if len(d.Children)+len(d.Referrers) > 0 {
			fail("untag decision for %s deletes children or referrers", d.Digest)
		}
		if sorted := slices.Sorted(slices.Values(digests)); len(slices.Compact(sorted)) != len(digests) {
			fail("the decision for %s lists a digest twice", d.Digest)
		}
		for _, digest := range digests {
			if survivors[digest] {
				fail("%s deleted (by the decision for %s), but a remaining tag, or an index it points at, references it", digest, d.Digest)
			}
			deleted[digest] = true
		}
		for _, child := range d.Children {
			if !slices.Contains(repo.Children[d.Digest], child) {
				fail("%s is not a child of %s", child, d.Digest)
			}
		}
		// A referrer tag goes only with the manifest it points at.
		for _, name := range d.Tags {
			if digest := tagOf[name].Digest; IsReferrerTag(name) && !slices.Contains(digests, digest) {
				fail("referrer tag %q listed by the decision for %s, which does not delete %s", name, d.Digest, digest)
			}
		}
	}

	// A digest is deleted exactly when all its tags are: an untag decision
	// only when something keeps the digest.
	for _, d := range got {
		if d.Action == Untag && !survivors[d.Digest] {
			fail("untag decision for %s, but nothing remaining references it", d.Digest)
		}
		if d.Action == DeleteManifest {
			for _, tg := range repo.Tags {
				if _, removed := removedBy[tg.Name]; tg.Digest == d.Digest && !removed {
					fail("%s deleted, but its tag %q stays", d.Digest, tg.Name) // implied by survivors, said plainly
				}
			}
			for _, child := range repo.Children[d.Digest] {
				if !survivors[child] && !deleted[child] {
					fail("child %s of deleted index %s is neither kept nor deleted", child, d.Digest)
				}
			}
		}
	}

	// Referrers follow a deleted or gone subject when asked (and only then,
	// above).
	if p.DeleteReferrers {
		for _, tg := range repo.Tags {
			subject := oracleSubject(tg.Name)
			if IsReferrerTag(tg.Name) && (deletedSubjects[subject] || repo.GoneSubjects[subject]) && !survivors[tg.Digest] && !ruled(repo, tg.Digest) {
				if _, removed := removedBy[tg.Name]; !removed {
					fail("referrer tag %q stays, but its subject is deleted", tg.Name)
				}
			}
		}
	}

	// An unknown-age image that a keep rule with newer_than selects (its
	// tag_regex matches) is never deleted: when in doubt, keep.
	for _, tg := range repo.Tags {
		if IsReferrerTag(tg.Name) || !tg.Created.IsZero() {
			continue
		}
		for i, k := range p.Keep {
			if k.NewerThan == 0 || (k.TagRegex != nil && !k.TagRegex.MatchString(tg.Name)) {
				continue
			}
			if d, removed := removedBy[tg.Name]; removed {
				fail("tag %q of unknown age removed by %s, but keep[%d] has newer_than", tg.Name, d.Digest, i)
			}
			if deleted[tg.Digest] {
				fail("digest %s of unknown-age tag %q deleted, but keep[%d] has newer_than", tg.Digest, tg.Name, i)
			}
		}
	}

	// Unknown-age images are never deleted by age alone (d).
	ageOnly := true
	for _, d := range p.Delete {
		ageOnly = ageOnly && d.OlderThan > 0
	}
	if ageOnly {
		for _, tg := range repo.Tags {
			if !IsReferrerTag(tg.Name) && tg.Created.IsZero() {
				if d, removed := removedBy[tg.Name]; removed {
					fail("tag %q of unknown age removed by %s under age-only delete rules", tg.Name, d.Digest)
				}
				if deleted[tg.Digest] {
					fail("digest %s of unknown-age tag %q deleted under age-only delete rules", tg.Digest, tg.Name)
				}
			}
		}
	}
}

// survivorsAfter is the oracle's own account of what stays in repo once
// the tags gone are removed: every digest a remaining tag points at, and
// everything those reference as index children, however deep, and the
// subjects their bodies name (a referrer tag follows its subject instead);
// and what deployed images reach, referrers included.
func survivorsAfter(repo Repository, images []Image, gone func(tag string) bool) map[string]bool {
	survivors := map[string]bool{}
	var survive func(string, bool)
	survive = func(digest string, subjects bool) {
		if !survivors[digest] {
			survivors[digest] = true
			for _, child := range repo.Children[digest] {
				survive(child, subjects)
			}
			if subject := repo.Subjects[digest]; subjects && subject != "" {
				survive(subject, subjects)
			}
		}
	}
	for _, image := range images {
		if image.Repository != repo.Name {
			continue
		}
		if image.Digest != "" {
			maps.Copy(survivors, reachedFrom(repo, image.Digest))
		}
		for _, tg := range repo.Tags {
			if tg.Name == image.Tag && IsReferrerTag(image.Tag) {
				maps.Copy(survivors, reachedFrom(repo, tg.Digest))
			}
		}
	}
	for _, tg := range repo.Tags {
		if !gone(tg.Name) && !IsReferrerTag(tg.Name) {
			survive(tg.Digest, true)
		}
	}
	for _, tg := range repo.Tags {
		if !gone(tg.Name) && IsReferrerTag(tg.Name) {
			survive(tg.Digest, false)
		}
	}
	return survivors
}

// checkKeptUnknownAge: the tags named as kept for their unknown age are
// exactly those of unknown age that a keep rule with newer_than selects,
// that a delete rule matches and that nothing else keeps.
func checkKeptUnknownAge(t *testing.T, repo Repository, p Policy, out Outcome) {
	t.Helper()
	// What the rules keep without newer_than, then what newer_than keeps
	// of known age, then deployed images.
	var strict Policy
	for _, k := range p.Keep {
		if k.NewerThan > 0 && k.Newest == 0 {
			k = KeepRule{Tags: k.Tags}
		}
		k.NewerThan = 0
		strict.Keep = append(strict.Keep, k)
	}
	kept := keptByPolicy(repo, strict, testNow)
	for _, k := range p.Keep {
		for _, tg := range repo.Tags {
			selected := k.TagRegex == nil || k.TagRegex.MatchString(tg.Name)
			if selected && k.NewerThan > 0 && !tg.Created.IsZero() && testNow.Sub(tg.Created) < k.NewerThan && !IsReferrerTag(tg.Name) {
				kept[tg.Name] = true
			}
		}
	}
	maps.Copy(kept, keptByImages(repo, p.Images))
	var want []string
	for _, tg := range repo.Tags {
		if IsReferrerTag(tg.Name) || !tg.Created.IsZero() || kept[tg.Name] {
			continue
		}
		if _, matched := deletedByPolicy(tg, p, testNow); !matched {
			continue
		}
		for _, k := range p.Keep {
			if k.NewerThan > 0 && (k.TagRegex == nil || k.TagRegex.MatchString(tg.Name)) {
				want = append(want, tg.Name)
				break
			}
		}
	}
	slices.Sort(want)
	if !slices.Equal(out.KeptUnknownAge, want) {
		t.Fatalf("KeptUnknownAge = %q, want %q\nrepository:\n%spolicy:\n%s", out.KeptUnknownAge, want, showRepository(repo), showPolicy(p))
	}
}

// ruled reports whether a tag that rules apply to (not a referrer tag)
// points at digest: then the rules, not the referrer, decide it.
func ruled(repo Repository, digest string) bool {
	for _, tg := range repo.Tags {
		if tg.Digest == digest && !IsReferrerTag(tg.Name) {
			return true
		}
	}
	return false
}

// oracleSubject is the digest a fallback referrer tag names, written apart
// from the engine's (referrerSubject) so that the oracle checks it:
// "sha256-<hex>.sig" names "sha256:<hex>".
func oracleSubject(tag string) string {
	alg, rest, _ := strings.Cut(tag, "-")
	hex, _, _ := strings.Cut(rest, ".")
	return alg + ":" + hex
}

func showRepository(repo Repository) string {
	var b strings.Builder
	for _, tg := range repo.Tags {
		age := "unknown age"
		if !tg.Created.IsZero() {
			age = testNow.Sub(tg.Created).String() + " old"
		}
		fmt.Fprintf(&b, "  %q -> %s (%s)\n", tg.Name, short(tg.Digest), age)
	}
	for _, index := range sortedKeys(repo.Children) {
		fmt.Fprintf(&b, "  index %s: %q\n", short(index), shortAll(repo.Children[index]))
	}
	return b.String()
}

func showPolicy(p Policy) string {
	var b strings.Builder
	for i, k := range p.Keep {
		fmt.Fprintf(&b, "  %s\n", k.describe(i))
	}
	for i, d := range p.Delete {
		fmt.Fprintf(&b, "  %s\n", d.describe(i))
	}
	fmt.Fprintf(&b, "  delete referrers: %v\n", p.DeleteReferrers)
	for _, image := range p.Images {
		fmt.Fprintf(&b, "  deployed: tag %q digest %s\n", image.Tag, short(image.Digest))
	}
	return b.String()
}

// keptByImages recomputes the tags deployed images keep: a tag reference
// its tag, a digest reference every tag that reaches it through index
// children. Referrer tags are never kept by a rule.
func keptByImages(repo Repository, images []Image) map[string]bool {
	kept := map[string]bool{}
	children := Links{Children: repo.Children}
	for _, image := range images {
		for _, t := range repo.Tags {
			if !IsReferrerTag(t.Name) && (t.Name == image.Tag || image.Digest != "" && children.Reach(t.Digest)[image.Digest]) {
				kept[t.Name] = true
			}
		}
	}
	return kept
}

// checkDeployedStay: a deployed tag is never removed; a deployed digest,
// and whatever it reaches (index children, subjects, referrers naming them,
// however far), is never deleted (as a manifest, child or referrer); no tag
// that reaches a deployed digest through index children is removed.
func checkDeployedStay(fail func(string, ...any), repo Repository, images []Image, got []Decision) {
	children := Links{Children: repo.Children}
	digestOf := map[string]string{}
	for _, t := range repo.Tags {
		digestOf[t.Name] = t.Digest
	}
	for _, image := range images {
		if image.Digest != "" {
			reached := reachedFrom(repo, image.Digest)
			for _, d := range got {
				for _, gone := range append(append([]string{d.Digest}, d.Children...), d.Referrers...) {
					if reached[gone] && (gone != d.Digest || d.Action == DeleteManifest) {
						fail("%s, which deployed %s reaches, deleted with %s", gone, image.Digest, d.Digest)
					}
				}
			}
		}
		for _, d := range got {
			if image.Tag != "" && slices.Contains(d.Tags, image.Tag) {
				fail("deployed tag %q removed by %s", image.Tag, d.Digest)
			}
			if image.Digest == "" {
				continue
			}
			if d.Action == DeleteManifest && (d.Digest == image.Digest || slices.Contains(d.Children, image.Digest) || slices.Contains(d.Referrers, image.Digest)) {
				fail("deployed digest %s deleted with %s", image.Digest, d.Digest)
			}
			for _, name := range d.Tags {
				if !IsReferrerTag(name) && children.Reach(digestOf[name])[image.Digest] {
					fail("tag %q, which reaches deployed %s, removed", name, image.Digest)
				}
			}
		}
	}
}

// reachedFrom is the oracle's own walk from a pinned digest: index
// children, the subject a body names, and the manifests naming it.
func reachedFrom(repo Repository, pinned string) map[string]bool {
	reached := map[string]bool{}
	var visit func(string)
	visit = func(d string) {
		if reached[d] {
			return
		}
		reached[d] = true
		for _, child := range repo.Children[d] {
			visit(child)
		}
		if subject, ok := repo.Subjects[d]; ok {
			visit(subject)
		}
		for referrer, subject := range repo.Subjects {
			if subject == d {
				visit(referrer)
			}
		}
	}
	visit(pinned)
	return reached
}
