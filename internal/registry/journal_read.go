package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// Reading back the journal that applies store (journal.go), for browsing
// it (registry_journal) and restoring from it (restore.go). What a chunk's
// bytes hold is parsed by pure functions (ApplyIDOf, ParseJournalChunk,
// JournalEntry.Parts), apart from the HTTP reads, so that garbage
// collection can read journals straight from the storage too.

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
func ApplyIDOf(tag string) (string, bool) {
	rest, ok := strings.CutPrefix(tag, "j-")
	i := strings.LastIndexByte(rest, '-')
	if !ok || i <= 0 {
		return "", false
	}
	if _, err := strconv.Atoi(rest[i+1:]); err != nil {
		return "", false
	}
	return rest[:i], true
}

// ParseJournalChunk parses one chunk's layer: its entries as JSON lines.
// An entry whose body does not hash to its digest is refused: restoring it
// would put back another manifest than the one deleted.
func ParseJournalChunk(layer []byte) ([]JournalEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(layer))
	var entries []JournalEntry
	for {
		var e JournalEntry
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, fmt.Errorf("journal entry %d: %w", len(entries)+1, err)
		}
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("journal entry %d: %w", len(entries)+1, err)
		}
		entries = append(entries, e)
	}
}

func (e JournalEntry) check() error {
	want, err := v1.NewHash(e.Digest)
	if err != nil {
		return fmt.Errorf("digest %q: %w", e.Digest, err)
	}
	got, _, err := v1.SHA256(bytes.NewReader(e.Body))
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("the body of %s in %q hashes to %s: the entry is damaged", e.Digest, e.Repository, got)
	}
	return ValidateRepository(e.Repository)
}

// Parts is what a journaled manifest names.
type Parts struct {
	Blobs    []retention.Blob // an image's config and layers (foreign layers, which the registry does not hold, left out)
	Children []retention.Blob // an index's manifests
	Subject  string           // the manifest a referrer refers to
}

// Parts reads what the body names. A body of another kind (schema1, an
// unknown media type) names nothing here.
func (e JournalEntry) Parts() (Parts, error) {
	mediaType := types.MediaType(e.MediaType)
	var p Parts
	switch {
	case mediaType.IsIndex():
		idx, err := v1.ParseIndexManifest(bytes.NewReader(e.Body))
		if err != nil {
			return p, fmt.Errorf("parsing index %s: %w", e.Digest, err)
		}
		for _, child := range idx.Manifests {
			p.Children = append(p.Children, retention.Blob{Digest: child.Digest.String(), Size: child.Size})
		}
		if idx.Subject != nil {
			p.Subject = idx.Subject.Digest.String()
		}
	case mediaType.IsImage():
		m, err := v1.ParseManifest(bytes.NewReader(e.Body))
		if err != nil {
			return p, fmt.Errorf("parsing manifest %s: %w", e.Digest, err)
		}
		for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if d.MediaType.IsDistributable() && len(d.URLs) == 0 {
				p.Blobs = append(p.Blobs, retention.Blob{Digest: d.Digest.String(), Size: d.Size})
			}
		}
		if m.Subject != nil {
			p.Subject = m.Subject.Digest.String()
		}
	}
	if p.Subject == "" { // a fallback tag names the subject of a referrer whose body does not (cosign)
		for _, tag := range e.Tags {
			if sub, ok := retention.SubjectOf(tag); ok {
				p.Subject = sub
			}
		}
	}
	return p, nil
}

// Size is the bytes the manifest and what it names directly hold: its
// body, an image's config and layers, an index's child manifests (whose
// own blobs their entries count).
func (p Parts) Size(body []byte) int64 {
	size := int64(len(body))
	for _, b := range append(slices.Clone(p.Blobs), p.Children...) {
		size += b.Size
	}
	return size
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
	tags, err := c.Tags(ctx, JournalRepository)
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var chunks []string
	for _, tag := range tags {
		if id, ok := ApplyIDOf(tag); ok && (f.ApplyID == "" || id == f.ApplyID) {
			chunks = append(chunks, tag)
		}
	}
	slices.Sort(chunks) // an apply's id starts with its time
	read, err := mapParallel(ctx, c.concurrency, chunks, func(ctx context.Context, tag string) ([]JournalRecord, error) {
		return c.readChunk(ctx, tag, f.Repository)
	})
	if err != nil {
		return nil, err
	}
	var records []JournalRecord
	for _, r := range read {
		records = append(records, r...)
	}
	return records, nil
}

// readChunk reads one chunk's entries of repo ("" every repository); a
// chunk removed since the tags were listed holds none.
func (c *Client) readChunk(ctx context.Context, tag, repo string) ([]JournalRecord, error) {
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
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, c.translate(op, JournalRepository, needPull, err)
	}
	if m.ArtifactType != journalArtifactType || len(m.Layers) != 1 {
		return nil, nil // not a chunk of the journal's own making
	}
	if repo != "" && m.Annotations[journalRepoKey] != repo {
		return nil, nil
	}
	layer, err := c.puller.Layer(ctx, r.Digest(m.Layers[0].Digest.String()))
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
		if repo == "" || e.Repository == repo {
			records = append(records, JournalRecord{JournalEntry: e, ApplyID: id})
		}
	}
	return records, nil
}
