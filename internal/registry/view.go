package registry

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// view is the apply's look at one repository, kept current by the checks
// around each chunk.
type view struct {
	snap    *Snapshot
	allowed *allowance // what the policy deletes at apply time; nil: no policy
	// evaluated is snap.changed when the policy was last evaluated: it is
	// evaluated again when the registry changed in ways the apply did not.
	evaluated int
	// pinned are the digests deployed images name in the repository: what
	// they reach stays, whatever the plan says (retention.Links.Pinned).
	pinned []string
	// keep are the digests this apply put back untagged (repair.go's
	// restore): kept with what they reach, as pinned ones are (keptBack),
	// their referrers included: recordedSubjects are the subjects that the
	// bodies journaled for deletion name, which the view does not read
	// (it reads those of staying tags).
	keep             []string
	recordedSubjects map[string]string
	// keptBack is what keep reaches, as keptAlive last worked it out.
	keptBack map[string]bool
	// blobsChecked: the apply asked whether the registry frees a deleted
	// manifest's blobs at once, and had an answer: blobsFreed (repair.go's
	// freesAtOnce).
	blobsChecked, blobsFreed bool
	blobsWarned              bool // the apply said so
	// reused: snap is a planning pass's read, whose kept tags the first
	// last check resolves again.
	reused bool
	// replica: the batch follows a primary (Batch.Replica).
	replica bool
}

// Terraform plans each resource again during apply, in the same provider
// process, right before applying it: that planning pass has just read
// every repository the apply is about to change. Reading each again for
// the apply's view doubled the reads of an apply (2,000 tags behind 30 ms
// of latency: 7.5 s of 70). So the reads of a retention plan are kept
// (recentReads), and an apply of the same repository soon after takes its
// snapshot as its view instead of reading anew. A view a little older is
// as safe as a fresh one: the apply lists the tags again before every
// chunk and verifies after it (execute.go), which is what catches a change
// made while any view is read. Each kept read serves one apply at most, and
// only within reuseReadsFor: an apply that waited long for its turn reads
// the repository again, not because it must but because its checks then
// have less to repair.
const reuseReadsFor = time.Minute

// keptBodyBytes bounds the manifest bodies a read keeps for the journal,
// and keptReadsBodyBytes those the kept reads of a process hold together;
// beyond them the journal reads bodies before the DELETEs (journal.go
// record).
const (
	keptBodyBytes      = 8 << 20
	keptReadsBodyBytes = 32 << 20
)

type recentRead struct {
	snap        *Snapshot
	withCreated bool
	at          time.Time
}

// recentReads are the snapshots retention plans read, by repository.
type recentReads struct {
	mu    sync.Mutex
	reads map[string]recentRead
}

// keep remembers the snapshot a plan read, for an apply soon after.
func (r *recentReads) keep(s *Snapshot, withCreated bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reads == nil {
		r.reads = map[string]recentRead{}
	}
	delete(r.reads, s.Repository)
	held := 0
	for _, read := range r.reads {
		held += read.snap.bodies.bytes()
	}
	if held+s.bodies.bytes() > keptReadsBodyBytes {
		s.bodies = nil
	}
	r.reads[s.Repository] = recentRead{snap: s, withCreated: withCreated, at: time.Now()}
}

// take returns the snapshot of repo read within reuseReadsFor, with
// creation times if asked; nil if there is none. Either way nothing kept of
// repo serves a later apply: this one is about to change it.
func (r *recentReads) take(repo string, withCreated bool) *Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	read, ok := r.reads[repo]
	delete(r.reads, repo)
	if !ok || time.Since(read.at) > reuseReadsFor || (withCreated && !read.withCreated) {
		return nil
	}
	return read.snap
}

// bodies are manifest bodies as the registry served them, by digest: the
// journal's copy of what the apply deletes, read along with the tags.
type bodies struct {
	mu   sync.Mutex
	m    map[string]*remote.Descriptor
	size int
}

func (b *bodies) keep(desc *remote.Descriptor) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]*remote.Descriptor{}
	}
	if b.size+len(desc.Manifest) > keptBodyBytes {
		return
	}
	b.m[desc.Digest.String()] = desc
	b.size += len(desc.Manifest)
}

func (b *bodies) bytes() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size
}

// take returns digest's body and forgets it (the journal holds it then).
func (b *bodies) take(digest string) (*remote.Descriptor, bool) {
	if b == nil {
		return nil, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	desc, ok := b.m[digest]
	delete(b.m, digest)
	return desc, ok
}

// only forgets every body but those of digests.
func (b *bodies) only(digests map[string]bool) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for d, desc := range b.m {
		if !digests[d] {
			delete(b.m, d)
			b.size -= len(desc.Manifest)
		}
	}
}

// readView is the repository as the apply starts on it: the snapshot a
// plan of this process read moments ago (see above), or a new read, with
// creation times when the policy evaluated at apply time needs them.
func (c *Client) readView(ctx context.Context, repo string, withCreated bool, planned map[string]bool) (*view, error) {
	if s := c.recent.take(repo, withCreated); s != nil {
		return &view{snap: s, reused: true}, nil
	}
	var s *Snapshot
	var err error
	if withCreated {
		s, err = c.SnapshotWithCreated(ctx, repo)
	} else {
		s, err = c.snapshotWithBodies(ctx, repo, func(digest string) bool { return planned[digest] })
	}
	return &view{snap: s}, err
}

// snapshotWithBodies is Snapshot with a GET per tag rather than a HEAD
// (the same round trip): the bodies of the digests keep asks for are kept
// (within keptBodyBytes) and what every body names is remembered, so that
// reading indexes, subjects and the journal's copies needs no request of
// its own.
func (c *Client) snapshotWithBodies(ctx context.Context, repo string, keep func(digest string) bool) (*Snapshot, error) {
	kept := &bodies{}
	s, err := c.snapshot(ctx, repo, func(ctx context.Context, repo, tag string) (Manifest, error) {
		ref, err := c.reference(repo, tag)
		if err != nil {
			return Manifest{}, err
		}
		desc, err := c.puller.Get(ctx, ref)
		if err != nil {
			return Manifest{}, c.translate("resolving "+shortRef(ref), repo, needPull, err)
		}
		digest := desc.Digest.String()
		c.rememberLinks(digest, desc)
		if keep(digest) {
			kept.keep(desc)
		}
		return Manifest{Digest: digest, MediaType: string(desc.MediaType), Size: desc.Size}, nil
	})
	if s != nil {
		s.bodies = kept
	}
	return s, err
}

// plannedDigests are the digests the works delete first (not their
// dependents, which no tag names).
func plannedDigests(works []*work) map[string]bool {
	planned := map[string]bool{}
	for _, w := range works {
		if w.tag == "" {
			planned[w.manifest.Digest] = true
		}
	}
	return planned
}

// reachOfKept is what the manifests put back keep: their children,
// subjects and referrers, however far, as the view and the journaled
// bodies link them.
func (v *view) reachOfKept() map[string]bool {
	if len(v.keep) == 0 {
		return map[string]bool{}
	}
	links := v.snap.links()
	subjects := maps.Clone(links.Subjects)
	if subjects == nil {
		subjects = map[string]string{}
	}
	for d, subject := range v.recordedSubjects {
		if _, known := subjects[d]; !known {
			subjects[d] = subject
		}
	}
	links.Subjects = subjects
	return links.Pinned(v.keep...)
}

// PinnedIn returns the digests images name in repo.
func PinnedIn(repo string, images []retention.Image) []string {
	var pinned []string
	for _, image := range images {
		if image.Repository == repo && image.Digest != "" {
			pinned = append(pinned, image.Digest)
		}
	}
	return pinned
}
