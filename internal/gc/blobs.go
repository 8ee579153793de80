package gc

import (
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
)

// blobID numbers a blob of the storage. Everything the scan keeps per
// manifest, link and mark names blobs by number: 4 bytes where a digest
// string costs 96 (71 characters and its header), allocated once per
// blob instead of once per path it appears in. What a run keeps for a
// store grows with its blobs, so this is most of its memory.
type blobID int32

// blobTable is every blob directory the storage holds: digest and data
// size, each stored once and numbered in the order added. Digests of any
// algorithm the registry accepts fit.
//
// The scan lists blob directories by name, without reading the data file
// below each (on S3 a listing of every key costs the server several times
// as much, and reads each blob's object; elsewhere it is a stat per blob).
// A directory is a blob only with its data file there, as for the
// reference, so a size is unchecked until read: the blobs a run would
// delete are read before anything is (check.go), the others are kept
// either way.
type blobTable struct {
	ids     map[digest.Digest]blobID
	digests []digest.Digest
	sizes   []int64 // or unchecked, or noData
}

const (
	unchecked int64 = -1 // the data file has not been read
	noData    int64 = -2 // no data file: not a blob, to the registry or the reference
)

func newBlobTable() blobTable {
	return blobTable{ids: map[digest.Digest]blobID{}}
}

// add records a blob directory found in the storage, with its data
// size if known (else unchecked).
func (t *blobTable) add(d digest.Digest, size int64) {
	if _, ok := t.ids[d]; ok {
		return
	}
	// A digest parsed from a path shares that path's memory: a copy keeps
	// 71 bytes alive instead of the whole path.
	d = digest.Digest(strings.Clone(string(d)))
	t.ids[d] = blobID(len(t.digests))
	t.digests = append(t.digests, d)
	t.sizes = append(t.sizes, size)
}

// lookup is the number of a blob, if the storage holds its directory.
func (t *blobTable) lookup(d digest.Digest) (blobID, bool) {
	id, ok := t.ids[d]
	return id, ok
}

// lookupAll numbers the digests the storage holds and drops the others:
// a digest without a blob can neither keep a manifest nor be swept.
func (t *blobTable) lookupAll(ds []digest.Digest) []blobID {
	var out []blobID
	for _, d := range ds {
		if id, ok := t.lookup(d); ok {
			out = append(out, id)
		}
	}
	return slices.Clip(out)
}

func (t *blobTable) len() int { return len(t.digests) }

func (t *blobTable) digest(id blobID) digest.Digest { return t.digests[id] }

func (t *blobTable) size(id blobID) int64 { return t.sizes[id] }

func (t *blobTable) setSize(id blobID, size int64) { t.sizes[id] = size }
