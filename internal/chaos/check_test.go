package chaos

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// checkKept checks a target after its apply: every expected tag still
// points at its digest, and its image is complete with the referrers the
// plan saw.
func (c *campaign) checkKept(tg *target) {
	cl := c.client(c.reg.URL)
	for _, tag := range slices.Sorted(maps.Keys(tg.expected)) {
		e := tg.expected[tag]
		m, err := cl.Resolve(c.ctx, tg.repo, tag)
		switch {
		case err != nil && !registry.IsNotFound(err):
			c.t.Fatal(err)
		case err != nil || m.Digest != e.digest:
			// Gone with its digest, or untagged by name, or dangling.
			e.dangling = err != nil && c.listed(cl, tg.repo, tag)
			if c.failed(tg.repo, e, &c.realLosses, fmt.Sprintf("LOST: %s:%s should point at %s, points at %q", tg.repo, tag, e.digest, m.Digest), e.digest, tag) {
				c.explain(tg)
			}
		case c.checkComplete(tg.repo, tag, e, referrersOf(tg, e.digest), !retention.IsReferrerTag(tag)):
			c.explain(tg)
		}
	}
}

// explain logs what the plan saw and decided in a target's repository and
// what the apply did there, for a failure to be understood.
func (c *campaign) explain(tg *target) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s as planned:", tg.repo)
	for _, tag := range slices.Sorted(maps.Keys(tg.snap.Tags)) {
		fmt.Fprintf(&b, "\n  %s -> %s %s", tag, tg.snap.Tags[tag].Digest, tg.snap.Tags[tag].MediaType)
	}
	for digest, children := range tg.snap.Children {
		fmt.Fprintf(&b, "\n  index %s lists %v", digest, children)
	}
	for _, m := range tg.batch.Manifests {
		fmt.Fprintf(&b, "\n  delete %s (tags %v, children %v, referrers %v)", m.Digest, m.Tags, m.Children, m.Referrers)
	}
	for _, tag := range slices.Sorted(maps.Keys(tg.batch.Untag)) {
		fmt.Fprintf(&b, "\n  untag %s from %s", tag, tg.batch.Untag[tag])
	}
	for _, tag := range slices.Sorted(maps.Keys(tg.expected)) {
		if e := tg.expected[tag]; e.raced {
			fmt.Fprintf(&b, "\n  raced %s -> %s at %s", tag, e.digest, e.at.Format("15:04:05.000"))
		}
	}
	c.t.Logf("%s\nwhat the registry answered the apply:%s", b.String(), c.proxy.timeline(tg.repo))
}

// referrersOf returns the referrer tags of digest that the plan saw (tag
// -> the referrer's digest then), except those checked as expectations
// of their own, so that a loss is counted once.
func referrersOf(tg *target, digest string) map[string]string {
	referrers := map[string]string{}
	for tag, m := range tg.snap.Tags {
		if subject, ok := retention.SubjectOf(tag); ok && subject == digest {
			if _, own := tg.expected[tag]; !own {
				referrers[tag] = m.Digest
			}
		}
	}
	return referrers
}

// checkComplete counts an incomplete image, and reports whether it was a
// real failure. With subject, the subject its body names must be there
// too (a tagged attestation keeps it; garbage collection, as
// distribution's, keeps only tagged ones).
func (c *campaign) checkComplete(repo, tag string, e expectation, referrers map[string]string, subject bool) bool {
	missing, err := c.gap(repo, e.digest, referrers, subject)
	return err != nil && c.failed(repo, e, &c.incomplete, fmt.Sprintf("INCOMPLETE: %s:%s (%s): %v", repo, tag, e.digest, err), missing)
}

// failed counts a lost tag or an incomplete image. It is inside the
// registry API's window when a race put it there after the apply's last
// check before the DELETE of any of refs (the tag listing right before
// it), or when the tag is left dangling by a DELETE the registry handled
// while the race pushed it (proxy.overlapped): no client can see a tag
// name pushed then, and a known tag moved then comes back where it was
// (repair.go). Otherwise it counts against the target (real), and failed
// reports true.
func (c *campaign) failed(repo string, e expectation, realLosses *int, msg string, refs ...string) bool {
	if e.raced && c.insideWindow(repo, e, refs) {
		c.windowLosses++
		c.t.Logf("inside the registry API's window: %s (raced at %s)", msg, e.at.Format("15:04:05.000"))
		return false
	}
	*realLosses++
	c.t.Errorf("%s (raced: %v)", msg, e.raced)
	return true
}

// listed reports whether the registry lists tag in repo.
func (c *campaign) listed(cl *registry.Client, repo, tag string) bool {
	tags, err := cl.Tags(c.ctx, repo)
	if err != nil {
		c.t.Fatal(err)
	}
	return slices.Contains(tags, tag)
}

func (c *campaign) insideWindow(repo string, e expectation, refs []string) bool {
	if e.dangling && c.proxy.overlapped(repo, e.start, e.at, refs...) {
		return true
	}
	deleted, check, ok := c.proxy.deletion(repo, refs...)
	return ok && e.at.After(check) && !check.IsZero() && !e.start.After(deleted)
}

// gap reads an image or index in full, then its referrers (tag -> the
// digest the plan saw). It returns why it is incomplete, with the digest
// of the missing manifest (the image, a child, a referrer) so that the
// DELETE that removed it can be found; nil when it is complete.
func (c *campaign) gap(repo, digest string, referrers map[string]string, subject bool) (string, error) {
	if missing, err := c.contentGap(repo, digest, subject); err != nil {
		return missing, err
	}
	for _, tag := range slices.Sorted(maps.Keys(referrers)) {
		if _, err := c.contentGap(repo, tag, false); err != nil {
			return referrers[tag], fmt.Errorf("referrer %s: %w", tag, err)
		}
	}
	return "", nil
}

// contentGap reads the manifest ref (a digest or a tag) names, its config
// and layers, or an index's children in full, and with subject the
// manifest its body names as subject; it returns what is missing ("" for
// a blob).
func (c *campaign) contentGap(repo, ref string, subject bool) (string, error) {
	desc, err := c.get(repo, ref)
	if err != nil {
		return ref, err
	}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return "", err
		}
		if m, err := img.Manifest(); err == nil && subject && m.Subject != nil {
			if _, err := c.get(repo, m.Subject.Digest.String()); err != nil {
				return m.Subject.Digest.String(), fmt.Errorf("subject %s: %w", m.Subject.Digest, err)
			}
		}
		return "", validate.Image(img)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return "", err
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		return "", err
	}
	for _, child := range manifest.Manifests {
		if _, err := c.get(repo, child.Digest.String()); err != nil {
			return child.Digest.String(), fmt.Errorf("child %s: %w", child.Digest, err)
		}
	}
	return "", validate.Index(idx)
}

func (c *campaign) get(repo, ref string) (*remote.Descriptor, error) {
	separator := ":"
	if strings.HasPrefix(ref, "sha256:") {
		separator = "@"
	}
	r, err := name.ParseReference(c.reg.Host+"/"+repo+separator+ref, name.Insecure)
	if err != nil {
		return nil, err
	}
	return remote.Get(r, c.reg.RemoteOptions()...)
}
