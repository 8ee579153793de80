package chaos

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// raceKinds are what the racer does while an apply runs: push a new image,
// put a new tag on a planned digest, move an existing tag onto one (a
// rollback of latest), push a tagged index listing planned digests, sign
// an image (a new referrer tag), attest a planned digest (a tagged
// attestation naming it as its subject).
var raceKinds = []string{"push", "new tag", "move", "index", "referrer", "attestation"}

// errNoRace: the race drawn cannot happen on this target.
var errNoRace = errors.New("nothing to race against")

// racer works against an apply, with dice of its own.
type racer struct {
	*campaign
	rng dice
}

// race works against the apply until it is over (applied closed): 1-4
// races, each after a random number of the apply's requests (or a while
// when it stalls), so that they land before its views, between a view and
// its DELETEs, or between rounds. When a restart is due, the registry restarts in one of those
// slots (the proxy in front keeps its address; requests meanwhile are
// refused). Each race that happened becomes an expectation of its target,
// stamped with the time it completed.
func (r *racer) race(targets []*target, applied <-chan struct{}) {
	n := 1 + r.rng.IntN(4)
	restartAt := r.rng.IntN(n)
	for k := range n {
		if !r.proxy.await(1+r.rng.IntN(12), time.Duration(r.rng.IntN(1500))*time.Millisecond, applied) {
			return
		}
		if r.restartDue && k == restartAt {
			r.setRegistry(r.reg.Restart(r.t, func() { time.Sleep(2 * time.Second) }, r.storage.options...))
			r.restarts++
			r.t.Logf("registry restarted during the apply of %s", targets[0].repo)
			r.restartDue = false
		}
		tg := targets[r.rng.IntN(len(targets))]
		kind := raceKinds[r.rng.IntN(len(raceKinds))]
		start := time.Now()
		tag, e, err := r.raceOnce(tg, kind, k)
		if err != nil {
			// The apply took the digest first, or there was nothing to
			// race against: a race that did not happen.
			r.t.Logf("race %s on %s did not happen: %v", kind, tg.repo, err)
			continue
		}
		r.races[kind]++
		e.raced, e.start, e.at = true, start, time.Now()
		tg.expect(tag, e)
	}
}

func (r *racer) raceOnce(tg *target, kind string, k int) (string, expectation, error) {
	planned := plannedDigests(tg)
	if kind == "push" {
		tag := fmt.Sprintf("new-%d", k)
		img, err := r.reg.PushImage(tg.repo, r.rng.created(), tag)
		return tag, expectation{digest: img.Digest.String()}, err
	}
	if kind == "referrer" {
		subject := r.rng.pick(append(planned, taggedDigests(tg)...), 1)[0]
		suffix := r.rng.referrerKind()
		sig, err := r.reg.PushReferrer(tg.repo, subject, suffix)
		return strings.Replace(subject.String(), ":", "-", 1) + "." + suffix, expectation{digest: sig.String()}, err
	}
	if len(planned) == 0 {
		return "", expectation{}, errNoRace
	}
	switch kind {
	case "attestation":
		tag := fmt.Sprintf("provenance-%d", 10+k)
		att, err := r.pushAttestation(tg.repo, r.rng.pick(planned, 1)[0], 10+k)
		return tag, expectation{digest: att}, err
	case "new tag":
		tag := fmt.Sprintf("rollback-%d", k)
		e, err := r.retag(tg, tag, planned)
		return tag, e, err
	case "move":
		return r.move(tg, planned)
	}
	tag := fmt.Sprintf("release-%d", k)
	index, err := r.reg.PushIndexOf(tg.repo, r.rng.pick(planned, 1+r.rng.IntN(2)), tag)
	return tag, expectation{digest: index.String()}, err
}

// move points an existing tag (latest, when there is one, half the time)
// at a planned digest it is not on.
func (r *racer) move(tg *target, planned []v1.Hash) (string, expectation, error) {
	tags := slices.DeleteFunc(slices.Sorted(maps.Keys(tg.snap.Tags)), retention.IsReferrerTag)
	tag := tags[r.rng.IntN(len(tags))]
	if _, ok := tg.snap.Tags["latest"]; ok && r.rng.IntN(2) == 0 {
		tag = "latest"
	}
	elsewhere := slices.DeleteFunc(slices.Clone(planned), func(h v1.Hash) bool { return h.String() == tg.snap.Tags[tag].Digest })
	if len(elsewhere) == 0 {
		return "", expectation{}, errNoRace
	}
	e, err := r.retag(tg, tag, elsewhere)
	return tag, e, err
}

func (r *racer) retag(tg *target, tag string, onto []v1.Hash) (expectation, error) {
	digest := r.rng.pick(onto, 1)[0]
	return expectation{digest: digest.String()}, r.reg.Tag(tg.repo, digest, tag)
}

// plannedDigests are the manifests the batch deletes, with their children.
func plannedDigests(tg *target) []v1.Hash {
	var planned []v1.Hash
	for _, m := range tg.batch.Manifests {
		for _, d := range append([]string{m.Digest}, m.Children...) {
			if h, err := v1.NewHash(d); err == nil && !slices.Contains(planned, h) {
				planned = append(planned, h)
			}
		}
	}
	return planned
}

// taggedDigests are the digests the plan saw under a tag, referrers aside.
func taggedDigests(tg *target) []v1.Hash {
	var digests []v1.Hash
	for _, tag := range slices.Sorted(maps.Keys(tg.snap.Tags)) {
		h, err := v1.NewHash(tg.snap.Tags[tag].Digest)
		if err == nil && !retention.IsReferrerTag(tag) && !slices.Contains(digests, h) {
			digests = append(digests, h)
		}
	}
	return digests
}
