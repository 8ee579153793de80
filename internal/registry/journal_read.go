package registry

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/distreg/terraform-provider-registry/internal/journalformat"
)

// Reading back the journal that applies store (journal.go), for browsing
// it (registry_journal) and restoring from it (restore.go). What a chunk's
// bytes hold is parsed by journalformat's pure functions, which garbage
// collection reads journals straight from the storage with too.

// JournalRecord is a journal entry as read back: one manifest an apply
// deleted.
type JournalRecord struct {
	JournalEntry
	ApplyID string // the apply that deleted it: what its chunks' tags name
}

// maxJournalChunk bounds the read of one chunk's layer: a chunk holds the
// bodies of at most a few hundred manifests.
const maxJournalChunk = 256 << 20

// ApplyIDOf returns the apply a journal chunk's tag (j-<id>-<chunk>)
// names, and false for a tag that names no chunk.
func ApplyIDOf(tag string) (string, bool) { return journalformat.ApplyIDOf(tag) }

// Parts is what a journaled manifest names (JournalEntry.Parts).
type Parts = journalformat.Parts

// ParseJournalChunk parses one chunk's layer (journalformat.ParseChunk),
// refusing an entry whose repository is no repository name: restores
// build requests from it.
func ParseJournalChunk(layer []byte) ([]JournalEntry, error) {
	entries, err := journalformat.ParseChunk(layer)
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		if err := ValidateRepository(e.Repository); err != nil {
			return nil, fmt.Errorf("journal entry %d: %w", i+1, err)
		}
	}
	return entries, nil
}

// JournalFilter narrows what ReadJournal returns; an empty field matches
// everything.
type JournalFilter struct {
	ApplyID    string
	Repository string
}

// ReadJournal reads what applies journaled in the registry
// (JournalRepository), the chunks in parallel, oldest apply first. Chunks
// of another apply are not read, nor the layers of another repository's.
// A registry where nothing was journaled has an empty journal.
func (c *Client) ReadJournal(ctx context.Context, f JournalFilter) ([]JournalRecord, error) {
	return c.readJournal(ctx, f.ApplyID, func(repo string) bool { return f.Repository == "" || repo == f.Repository })
}

// readJournal is ReadJournal of one apply's chunks ("" every apply's),
// and of the repositories of, each chunk's manifest read once: a restore
// over many repositories reads the journal once, not once per repository
// (review 61).
func (c *Client) readJournal(ctx context.Context, applyID string, of func(repo string) bool) ([]JournalRecord, error) {
	tags, err := c.Tags(ctx, JournalRepository)
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var chunks []string
	for _, tag := range tags {
		if id, ok := ApplyIDOf(tag); ok && (applyID == "" || id == applyID) {
			chunks = append(chunks, tag)
		}
	}
	sortChunks(chunks)
	read, err := mapParallel(ctx, c.concurrency, chunks, func(ctx context.Context, tag string) ([]JournalRecord, error) {
		return c.readChunk(ctx, tag, of)
	})
	if err != nil {
		return nil, err
	}
	return withoutWithdrawn(slices.Concat(read...)), nil
}

// sortChunks orders journal chunks' tags as they were stored: by apply (an
// apply's id starts with its time), then by chunk number.
func sortChunks(tags []string) {
	slices.SortFunc(tags, func(a, b string) int {
		idA, _ := ApplyIDOf(a)
		idB, _ := ApplyIDOf(b)
		return cmp.Or(cmp.Compare(idA, idB), cmp.Compare(journalformat.ChunkOf(a), journalformat.ChunkOf(b)))
	})
}

// withoutWithdrawn keeps, in order, the last entry of each manifest an
// apply journaled: a later entry stands over an earlier one (journaled
// again with the tags its DELETE took: review 60), and one that withdraws
// it (JournalEntry.Kept: not deleted after all) drops both.
func withoutWithdrawn(records []JournalRecord) []JournalRecord {
	type key struct{ apply, repo, digest string }
	var out []JournalRecord
	for _, r := range records {
		k := key{r.ApplyID, r.Repository, r.Digest}
		out = slices.DeleteFunc(out, func(o JournalRecord) bool { return key{o.ApplyID, o.Repository, o.Digest} == k })
		if !r.Kept {
			out = append(out, r)
		}
	}
	return out
}

// readChunk reads one chunk's entries of the repositories of; a chunk
// removed since the tags were listed holds none.
func (c *Client) readChunk(ctx context.Context, tag string, of func(repo string) bool) ([]JournalRecord, error) {
	r, err := c.repository(JournalRepository)
	if err != nil {
		return nil, err
	}
	op := "reading the journal's chunk " + tag
	desc, err := c.puller.Get(ctx, r.Tag(tag))
	if err = c.translate(op, JournalRepository, needPull, err); IsNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	chunk, ok, err := journalformat.ParseManifest(desc.Manifest)
	if err != nil {
		return nil, c.translate(op, JournalRepository, needPull, err)
	}
	if !ok || !of(chunk.Repository) {
		return nil, nil
	}
	layer, err := c.puller.Layer(ctx, r.Digest(chunk.Layer))
	if err != nil {
		return nil, c.translate(op, JournalRepository, needPull, err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, c.translate(op, JournalRepository, needPull, err)
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, maxJournalChunk))
	if err != nil {
		return nil, c.translate(op, JournalRepository, needPull, err)
	}
	entries, err := ParseJournalChunk(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	id, _ := ApplyIDOf(tag)
	var records []JournalRecord
	for _, e := range entries {
		if of(e.Repository) {
			records = append(records, JournalRecord{JournalEntry: e, ApplyID: id})
		}
	}
	return records, nil
}
