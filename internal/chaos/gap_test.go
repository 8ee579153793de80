package chaos

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// The repair puts back what a race took (issue 31), so a kept tag may be
// unavailable for a while: the gap watcher polls every kept tag while a
// raced apply runs, straight at the registry, and measures the longest
// stretch in which one was not served where it must point.

// gapFigures are the gaps seen over the campaign.
type gapFigures struct {
	longest time.Duration
	what    string // the tag of the longest gap
	gaps    int    // stretches seen
	rounds  int    // polls of every kept tag
	polled  time.Duration
}

func (g gapFigures) String() string {
	if g.rounds == 0 {
		return "not measured"
	}
	every := (g.polled / time.Duration(g.rounds)).Round(time.Millisecond)
	if g.gaps == 0 {
		return fmt.Sprintf("0 (no kept tag unavailable; polled every %s)", every)
	}
	return fmt.Sprintf("%s (%s; %d gaps in all; polled every %s)", g.longest.Round(time.Millisecond), g.what, g.gaps, every)
}

// watchGaps polls the targets' expected tags until the apply is over
// (applied closed); a tag still missing then counts until then (and is
// lost, counted by checkKept).
func (c *campaign) watchGaps(targets []*target, applied <-chan struct{}) {
	missingSince := map[string]time.Time{} // repo:tag -> first poll that found it missing
	end := func(key string, at time.Time) {
		if gap := at.Sub(missingSince[key]); gap > c.gaps.longest {
			c.gaps.longest, c.gaps.what = gap, key
		}
		c.gaps.gaps++
		delete(missingSince, key)
	}
	start := time.Now()
	for {
		select {
		case <-applied:
			now := time.Now()
			for _, key := range slices.Sorted(maps.Keys(missingSince)) {
				end(key, now)
			}
			c.gaps.polled += now.Sub(start)
			return
		default:
		}
		reg := c.registry()
		for _, tg := range targets {
			for tag, e := range tg.expectations() {
				key := tg.repo + ":" + tag
				served, ok := servedAt(reg.Host, tg.repo, tag, e.digest, reg.RemoteOptions())
				switch {
				case !ok: // no answer (a restart): nothing learnt
				case !served && missingSince[key].IsZero():
					missingSince[key] = time.Now()
				case served && !missingSince[key].IsZero():
					end(key, time.Now())
				}
			}
		}
		c.gaps.rounds++
		time.Sleep(5 * time.Millisecond)
	}
}

// servedAt reports whether the registry serves tag at digest, and false
// for ok when it gave no answer that says (a connection refused while it
// restarts, a 5xx).
func servedAt(host, repo, tag, digest string, opts []remote.Option) (served, ok bool) {
	ref, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return false, false
	}
	desc, err := remote.Head(ref, opts...)
	var terr *transport.Error
	switch {
	case err == nil:
		return desc.Digest.String() == digest, true
	case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
		return false, true
	}
	return false, false
}
