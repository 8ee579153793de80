package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The journal holds the body of every manifest an apply deletes, read
// right before its DELETE, with the tags it carried. Until garbage
// collection runs, the registry still holds every blob a deleted manifest
// names, so a PUT of the same bytes restores it exactly, under the same
// digest; the apply's verification (repair.go) restores from it.
//
// An apply's journal is also appended, chunk by chunk and before the
// chunk's DELETEs, to a file of its own in cache_dir/journal (JSON lines),
// so that what an apply deleted can be found and put back after it ended.
// Where cache_dir is empty, the journal lives only as long as the apply.

// JournalEntry is one deleted manifest, as it was before the DELETE.
type JournalEntry struct {
	Registry   string    `json:"registry"`
	Repository string    `json:"repository"`
	Digest     string    `json:"digest"`
	MediaType  string    `json:"media_type"`
	Body       []byte    `json:"body"`
	Tags       []string  `json:"tags,omitempty"` // the tags on it when it was read
	At         time.Time `json:"at"`
}

// journal is one repository's journal during one apply.
type journal struct {
	mu       sync.Mutex
	entries  map[string]JournalEntry // digest -> body, read before its DELETE
	deleted  map[string]bool         // digests this apply deleted and has not restored
	chunk    []string                // those of them the current chunk deleted
	done     map[string]bool         // deletions the registry confirmed
	restored []string                // what verification put back, and why
	lost     []string                // what it could not put back
	file     string                  // where entries are appended; "" none
}

func (c *Client) journalFor(repo string) *journal {
	j := &journal{entries: map[string]JournalEntry{}, deleted: map[string]bool{}, done: map[string]bool{}}
	if dir := c.CacheDir(); dir != "" {
		j.file = filepath.Join(dir, "journal", time.Now().UTC().Format("20060102T150405Z")+"-"+nonce()+".jsonl")
	}
	return j
}

func nonce() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// holds reports whether the journal has digest's body.
func (j *journal) holds(digest string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, ok := j.entries[digest]
	return ok
}

func (j *journal) entry(digest string) (JournalEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.entries[digest]
	return e, ok
}

func (j *journal) markDeleted(digest string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.deleted[digest] = true
	j.chunk = append(j.chunk, digest)
}

// confirm records that the registry answered digest's DELETE.
func (j *journal) confirm(digest string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.done[digest] = true
}

// startChunk starts counting what the next chunk deletes.
func (j *journal) startChunk() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.chunk = nil
}

// chunkDeleted lists what the current chunk deleted and is still deleted.
func (j *journal) chunkDeleted() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(j.chunk), func(d string) bool { return !j.deleted[d] })
}

// countDeleted counts the works' manifests that this apply deleted and
// did not put back.
func (j *journal) countDeleted(works []*work) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	for _, w := range works {
		if w.tag == "" && j.deleted[w.manifest.Digest] && j.done[w.manifest.Digest] {
			n++
		}
	}
	return n
}

func (j *journal) wasDeleted(digest string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.deleted[digest]
}

// add records entries, appending them to the journal's file first: the
// caller deletes nothing of them before add returns. Writing the file is
// best effort (the entries stay in memory for this apply's repairs).
func (j *journal) add(entries []JournalEntry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, e := range entries {
		j.entries[e.Digest] = e
	}
	if j.file == "" || len(entries) == 0 {
		return
	}
	if os.MkdirAll(filepath.Dir(j.file), 0o700) != nil {
		return
	}
	f, err := os.OpenFile(j.file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	enc := json.NewEncoder(f)
	for _, e := range entries {
		if enc.Encode(e) != nil {
			break
		}
	}
	_ = f.Sync()
	_ = f.Close()
}

// record reads into the journal the body of every manifest the chunk
// deletes (as runChunk decides: a manifest, and its dependents that
// nothing kept uses), in parallel. A manifest already gone is left out,
// and runChunk does not send its DELETE.
func (c *Client) record(ctx context.Context, v *view, j *journal, chunk []*work, kept map[string]bool) error {
	var digests []string
	for _, w := range chunk {
		for i, d := range w.steps {
			if (i == 0 && !w.started) || !kept[d] {
				digests = append(digests, d)
			}
		}
	}
	r, err := c.repository(v.snap.Repository)
	if err != nil {
		return err
	}
	tagsOn := v.snap.tagsByDigest()
	now := time.Now().UTC()
	bodies, err := mapParallel(ctx, c.concurrency, digests, func(ctx context.Context, digest string) (*JournalEntry, error) {
		if e, ok := j.entry(digest); ok {
			return &e, nil
		}
		desc, err := c.puller.Get(ctx, r.Digest(digest))
		if err = c.translate("reading manifest "+digest+" before deleting it", v.snap.Repository, needPull, err); IsNotFound(err) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		return &JournalEntry{Registry: c.url, Repository: v.snap.Repository, Digest: digest, MediaType: string(desc.MediaType),
			Body: desc.Manifest, Tags: tagsOn[digest], At: now}, nil
	})
	if err != nil {
		return err
	}
	var entries []JournalEntry
	for _, e := range bodies {
		if e != nil {
			entries = append(entries, *e)
		}
	}
	j.add(entries)
	return nil
}

// rawManifest is a manifest body as the registry served it, to be put back.
type rawManifest struct {
	body      []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.body, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }
