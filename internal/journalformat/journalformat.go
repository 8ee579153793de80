// Package journalformat is the format of the journal that retention
// applies store in the registry (internal/registry's journal.go writes
// it): the repository, the chunks' tags and manifests, and the entries,
// read by pure functions so that the provider, reading the journal through
// the registry's API, and garbage collection, reading it straight from the
// storage, parse it the same way. It imports neither.
package journalformat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// Repository holds the journals of applies, in the registry.
const Repository = retention.ProviderNamespace + "journal"

// What marks a chunk as the journal's own: its manifest's artifactType,
// its one layer's media type, and the annotation naming the repository
// whose deletions it holds.
const (
	ArtifactType         = "application/vnd.distreg.terraform-provider-registry.journal.v1"
	LayerType            = types.MediaType("application/vnd.distreg.terraform-provider-registry.journal.entries.v1+jsonl")
	RepositoryAnnotation = "io.github.distreg.terraform-provider-registry.repository"
)

// Entry is one deleted manifest, as it was before the DELETE.
type Entry struct {
	Registry   string    `json:"registry"`
	Repository string    `json:"repository"`
	Digest     string    `json:"digest"`
	MediaType  string    `json:"media_type"`
	Body       []byte    `json:"body"`
	Tags       []string  `json:"tags,omitempty"` // the tags on it when it was read
	At         time.Time `json:"at"`
	// Kept withdraws the apply's earlier entries of this manifest: it was
	// journaled before the last look at the registry ahead of its DELETE,
	// and that look kept it (review 58): the apply did not delete it. An
	// entry of the same apply after it (journaled again, then deleted)
	// stands. Readers go by the order of the apply's chunks (ChunkOf).
	Kept bool `json:"kept,omitempty"`
}

// ChunkOf returns the number of a journal chunk's tag (j-<id>-<chunk>):
// an apply's chunks are numbered in the order it stored them.
func ChunkOf(tag string) int {
	n, _ := strconv.Atoi(tag[strings.LastIndexByte(tag, '-')+1:])
	return n
}

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

// Chunk is what a chunk's manifest says.
type Chunk struct {
	Layer      string // digest of the layer holding the entries
	Repository string // the repository whose deletions they are
}

// ParseManifest reads a chunk's manifest, and false for a manifest
// the journal did not make (another artifact under a j- tag).
func ParseManifest(body []byte) (Chunk, bool, error) {
	var m v1.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return Chunk{}, false, err
	}
	if m.ArtifactType != ArtifactType || len(m.Layers) != 1 {
		return Chunk{}, false, nil
	}
	return Chunk{Layer: m.Layers[0].Digest.String(), Repository: m.Annotations[RepositoryAnnotation]}, true, nil
}

// ParseChunk parses one chunk's layer: its entries as JSON lines. An
// entry whose body does not hash to its digest is refused: restoring it
// would put back another manifest than the one deleted. Repository names
// are left to the reader that builds requests or paths from them.
func ParseChunk(layer []byte) ([]Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(layer))
	var entries []Entry
	for {
		var e Entry
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

func (e Entry) check() error {
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
	return nil
}

// Parts is what a journaled manifest names.
type Parts struct {
	Blobs    []retention.Blob // an image's config and layers (foreign layers, which the registry does not hold, left out)
	Children []retention.Blob // an index's manifests
	Subject  string           // the manifest a referrer refers to
}

// Parts reads what the body names. A body of another kind (schema1, an
// unknown media type) names nothing here.
func (e Entry) Parts() (Parts, error) {
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
