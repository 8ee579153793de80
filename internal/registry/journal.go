package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/distreg/terraform-provider-registry/internal/journalformat"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// The journal holds the body of every manifest an apply deletes, read
// right before its DELETE, with the tags it carried. Until garbage
// collection runs, the registry still holds every blob a deleted manifest
// names, so a PUT of the same bytes restores it exactly, under the same
// digest; the apply's verification (repair.go) restores from it.
//
// So that what an apply deleted can be found and put back after it ended,
// from another machine too (CI plans on one runner and applies on
// another), each chunk's entries are stored before its DELETEs:
//
//   - in the registry itself, as an OCI artifact in JournalRepository (one
//     manifest per chunk, its one layer the entries as JSON lines, tagged
//     j-<time>-<apply>-<chunk>, annotated with the repository). The registry
//     is the one place every run of the configuration can read, and its
//     garbage collection keeps what is tagged. No policy ever matches the
//     provider's own repositories (retention.MatchRepositories);
//   - in cache_dir/journal, a file per apply (JSON lines), when cache_dir
//     is set.
//
// Both are best effort: where the credentials cannot push, the apply still
// repairs from memory, and says the journal was not stored, and where it
// is then (the file, or nowhere once the apply ends: cache_dir off or not
// writable); a file it cannot write is said too.

// JournalRepository holds the journals of applies, in the registry. The
// format is journalformat's, which garbage collection reads too.
const JournalRepository = journalformat.Repository

const (
	journalArtifactType = journalformat.ArtifactType
	journalLayerType    = journalformat.LayerType
	journalRepoKey      = journalformat.RepositoryAnnotation
)

// journalConfig is the journal artifacts' config: a blob of their own, not
// the empty descriptor's "{}", which users' artifacts share (a blob the
// journal shared would survive garbage collection that the plan's space
// estimate counts as freed).
var journalConfig = static.NewLayer([]byte(`{"terraform-provider-registry":"journal","format":1}`),
	types.MediaType("application/vnd.distreg.terraform-provider-registry.journal.config.v1+json"))

// JournalEntry is one deleted manifest, as it was before the DELETE.
type JournalEntry = journalformat.Entry

// journal is one repository's journal during one apply.
type journal struct {
	mu       sync.Mutex
	entries  map[string]JournalEntry // digest -> body, read before its DELETE
	stored   map[string]bool         // digests of the entries record stored (journaled), not only read
	sent     map[string]int          // digest -> this apply's DELETEs of it that may have been carried out (markDeleted, less those refused)
	deleted  map[string]bool         // digests this apply deleted and has not restored
	chunk    []string                // those of them the current chunk deleted
	done     map[string]bool         // deletions the registry confirmed
	again    []string                // put back while looking for a dangling tag's manifest, to delete again with the next chunk
	ahead    map[string]string       // planned tag -> its digest, gone ahead of the tag's own item: the digest deleted by another item (wentAhead), or the tag removed by someone else (verify)
	restored []string                // what verification put back, and why
	skipped  []string                // deletions verification undid: not the plan's any more
	lost     []string                // what it could not put back
	warnings []string                // where the journal could not be stored
	file     string                  // where entries are appended; "" none
	fileErr  error                   // appending to file failed (the first error): not tried again
	noStore  bool                    // storing in the registry failed: not tried again, but for withdrawals while unsure
	unsure   []journalChunk          // chunks whose manifest PUT failed: the registry may hold them (settleUnsure)
	standing map[string]int64        // digest -> the chunk whose deletion entry of it stands in the registry's journal (restoreAdvice)
	settled  map[string]int64        // digest -> the last chunk stored for it, deletion or withdrawal
	run      *applyRun               // the apply this repository's batch belongs to
}

// applyRun is what the journals of one apply's repositories share: the id
// that names the apply (registry_restore's apply_id) and the count of the
// chunks stored, which numbers each chunk's tag.
type applyRun struct {
	id     string
	chunks atomic.Int64
}

func newApplyRun() *applyRun {
	return &applyRun{id: time.Now().UTC().Format("20060102T150405Z") + "-" + nonce()}
}

// newJournal starts the journal of one repository's batch in run (nil: an
// apply of its own).
func (c *Client) newJournal(run *applyRun) *journal {
	if run == nil {
		run = newApplyRun()
	}
	j := &journal{entries: map[string]JournalEntry{}, stored: map[string]bool{}, sent: map[string]int{}, deleted: map[string]bool{}, done: map[string]bool{}, ahead: map[string]string{}, standing: map[string]int64{}, settled: map[string]int64{}, run: run}
	if dir, ok := c.CacheFolder(journalFolder); ok { // a file per repository: batches append side by side
		j.file = filepath.Join(dir, run.id+"-"+nonce()+".jsonl")
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

// journaled reports whether record stored digest's entry (a body read
// only to put a tag back on it is held, not journaled).
func (j *journal) journaled(digest string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stored[digest]
}

// journaledWithOtherTags reports whether record stored digest's entry,
// no DELETE of it was sent yet, and its tags are not tags (sorted).
func (j *journal) journaledWithOtherTags(digest string, tags []string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stored[digest] && j.sent[digest] == 0 && !slices.Equal(j.entries[digest].Tags, tags)
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
	j.sent[digest]++
	j.chunk = append(j.chunk, digest)
}

// withdrawKept stores, for each of digests that the journal stored and
// this apply sent no DELETE for (the chunk's last look kept it, or the
// chunk stopped first), an entry that withdraws it (JournalEntry.Kept):
// registry_journal no longer lists it as deleted, nor does a restore by
// apply_id put its tags back (review 58). One the apply deletes later is
// journaled again before that DELETE.
func (c *Client) withdrawKept(ctx context.Context, repo string, j *journal, digests []string) {
	var originals, markers []JournalEntry
	now := time.Now().UTC()
	j.mu.Lock()
	for _, d := range digests {
		if e, ok := j.entries[d]; ok && j.stored[d] && j.sent[d] == 0 {
			originals = append(originals, e)
			e.Kept, e.At = true, now
			markers = append(markers, e)
		}
	}
	j.mu.Unlock()
	if len(markers) == 0 {
		return
	}
	c.addToJournal(ctx, repo, j, markers)
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, e := range originals {
		j.stored[e.Digest] = false
		e.At, e.Tags = time.Time{}, nil // journaled again, should it go after all: then, with the tags it has then (review 59)
		j.entries[e.Digest] = e
	}
}

// refused records a DELETE that was not this apply's deletion: refused at
// every try (no right to delete, deletion disabled, read-only, a redirect,
// rate limited), never sent (the registry could not be reached), or that
// found the manifest gone, someone else first (review 63). Unless
// another DELETE of the same digest may have been carried out (a child two
// indexes share), the manifest is not this apply's deletion, and its entry
// is withdrawn after the chunk like one never sent (reviews 59, 60, 62).
func (j *journal) refused(digest string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.sent[digest]--; j.sent[digest] == 0 {
		delete(j.deleted, digest)
	}
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

// performed is what the works did and verification did not put back: the
// manifests deleted, and the tags removed (with a manifest or alone).
func (j *journal) performed(works []*work) Performed {
	j.mu.Lock()
	defer j.mu.Unlock()
	p := Performed{Digests: map[string]bool{}, Tags: map[string]bool{}}
	for d := range j.deleted {
		if j.done[d] {
			p.Digests[d] = true
		}
	}
	for _, w := range works {
		// Also a manifest put back after its DELETE: untagged, what the
		// DELETE took stays gone (review 61).
		if w.tag != "" || p.Digests[w.manifest.Digest] || j.sent[w.manifest.Digest] > 0 {
			for _, t := range w.removed {
				p.Tags[t] = true
			}
		}
	}
	for tag, d := range j.ahead { // also when its own item never ran (the apply stopped) or was skipped
		if p.Digests[d] {
			p.Tags[tag] = true
		}
	}
	return p
}

// goneAhead records that a planned tag went with its digest, which
// another item of this apply deleted first.
func (j *journal) goneAhead(tag, digest string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ahead[tag] = digest
}

// wentAheadWith reports whether tag went with digest ahead of its own item.
func (j *journal) wentAheadWith(tag, digest string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return digest != "" && j.ahead[tag] == digest
}

// confirmed tells whether the registry answered digest's DELETE.
func (j *journal) confirmed(digest string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.done[digest]
}

// deletedInApply reports whether this apply deleted a manifest of the
// repository that is still deleted.
func (j *journal) deletedInApply() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.deleted) > 0
}

func (j *journal) wasDeleted(digest string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.deleted[digest]
}

// add records entries in memory and stores them (see above): the caller
// deletes nothing of them before add returns.
func (c *Client) addToJournal(ctx context.Context, repo string, j *journal, entries []JournalEntry) {
	j.mu.Lock()
	for _, e := range entries {
		j.entries[e.Digest] = e
		j.stored[e.Digest] = true
	}
	j.mu.Unlock()
	if len(entries) == 0 {
		return
	}
	lines := journalLines(entries)
	fileFailed := j.appendFile(lines)
	stored := !j.storeFailed()
	withdrawal := entries[0].Kept
	digests := make([]string, len(entries))
	for i, e := range entries {
		digests[i] = e.Digest
	}
	if err := c.storeJournal(ctx, repo, j, lines, withdrawal, digests); err != nil && withdrawal {
		j.note(&j.warnings, fmt.Sprintf("the journal in the registry (%s) may list as deleted by this apply %d manifest(s) of %s that it did not delete "+
			"(%s): storing that they stay failed: %v; registry_journal may show them, and a registry_restore with apply_id = %q would write them "+
			"again, unchanged, and point their tags back", JournalRepository, len(digests), repo, strings.Join(digests, ", "), err, j.run.id))
		return
	} else if err != nil {
		fix := ""
		if IsNotFound(err) { // registries that keep images under an owner (Gitea) need the owner to exist
			fix = fmt.Sprintf(" (on a registry whose repositories live under an owner, such as Gitea, create the owner %q, an organization there, "+
				"and give these credentials write access to its packages)", strings.TrimSuffix(retention.ProviderNamespace, "/"))
		}
		j.note(&j.warnings, fmt.Sprintf("the journal of the deletions in %s could not be stored in the registry (%s): %v%s; "+
			"this apply still puts back what the registry API's window takes, but registry_restore cannot put back what it deletes there from now on: %s",
			repo, JournalRepository, err, fix, j.whereKept()))
		return
	}
	if fileFailed != nil { // said once: later chunks are not written either
		if stored {
			j.note(&j.warnings, fmt.Sprintf("the journal of the deletions in %s could not be written to %s: %v; "+
				"it is stored in the registry (%s), where registry_restore finds it", repo, j.file, fileFailed, JournalRepository))
		} else { // the registry refused it before: from here on it is kept nowhere else
			j.note(&j.warnings, fmt.Sprintf("the journal of the deletions in %s, which could not be stored in the registry, could not be written to %s either: %v; "+
				"what this apply deletes there from now on is journaled nowhere but in its memory, and once the apply ends no journal is left to put it back from", repo, j.file, fileFailed))
		}
	}
}

// whereKept says where the journal is kept besides the apply's memory,
// for a warning that it could not be stored in the registry.
func (j *journal) whereKept() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case j.file == "":
		return "these deletions are journaled nowhere but in this apply's memory (cache_dir is off: no journal file is written), " +
			"and once the apply ends no journal is left to put them back from"
	case j.fileErr != nil:
		return fmt.Sprintf("writing the journal to %s failed too (%v): these deletions are journaled nowhere but in this apply's memory, "+
			"and once the apply ends no journal is left to put them back from", j.file, j.fileErr)
	default:
		return fmt.Sprintf("these deletions are journaled only in %s on this machine (JSON lines: each deleted manifest's body, media type and tags), "+
			"from which they can be pushed back by hand (each body by digest, then its tags; the last line of a digest stands, "+
			"and one with \"kept\": true says it was not deleted after all) until garbage collection runs", j.file)
	}
}

// restoreAdvice says what puts back what this apply deleted in the
// repository: registry_restore where the journal was stored in the
// registry, else where it is kept (whereKept), never advice that cannot
// work (reviews 58, 60).
func (j *journal) restoreAdvice() string {
	j.mu.Lock()
	failed, stored, id := j.noStore, len(j.standing) > 0, j.run.id
	unsure := slices.ContainsFunc(j.unsure, func(c journalChunk) bool { return !c.withdrawal })
	j.mu.Unlock()
	switch {
	case !failed:
		return fmt.Sprintf("registry_restore with apply_id = %q puts back what this apply deleted, until garbage collection runs (its plan lists each image)", id)
	case stored:
		return fmt.Sprintf("registry_restore with apply_id = %q puts back what this apply journaled in the registry before storing its journal failed; "+
			"for the rest, %s", id, j.whereKept())
	case unsure:
		return fmt.Sprintf("storing the journal in the registry got no answer, so it may be there: registry_restore with apply_id = %q puts back what it holds "+
			"(its plan lists each image); otherwise, %s", id, j.whereKept())
	default:
		return "the journal could not be stored in the registry, so registry_restore cannot put it back: " + j.whereKept()
	}
}

// journalLines is entries as JSON lines.
func journalLines(entries []JournalEntry) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, e := range entries {
		_ = enc.Encode(e)
	}
	return b.Bytes()
}

// storeJournal pushes one chunk's entries to JournalRepository as an
// artifact: an empty config, one layer of JSON lines, a tag per chunk.
// After a store failed, later chunks are not stored (a registry refusing
// pushes costs one try), but withdrawals (JournalEntry.Kept) still are
// when the failed one may have landed: its manifest PUT was sent, its
// answer not had (interrupted, lost), and a withdrawal may be all that
// stands between a restore by apply_id and what was not deleted (review
// 60).
func (c *Client) storeJournal(ctx context.Context, repo string, j *journal, lines []byte, withdrawal bool, digests []string) (err error) {
	if j.skipStore(withdrawal) {
		return nil
	}
	r, err := c.repository(JournalRepository)
	if err != nil {
		return err
	}
	layer := static.NewLayer(lines, journalLayerType)
	for _, blob := range []v1.Layer{journalConfig, layer} {
		if err := c.pusher.Upload(ctx, r, blob); err != nil {
			return j.failed(c.translate("storing the journal", JournalRepository, needPush, err))
		}
	}
	config, err := partial.Descriptor(journalConfig)
	if err != nil {
		return err
	}
	entries, err := partial.Descriptor(layer)
	if err != nil {
		return err
	}
	number := j.run.chunks.Add(1)
	tag := fmt.Sprintf("j-%s-%03d", j.run.id, number)
	defer func() {
		if err == nil && withdrawal {
			c.settleUnsure(ctx, j) // the registry answers now: did the chunk whose PUT got no answer land?
		}
	}()
	body, err := json.Marshal(v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  journalArtifactType,
		Config:        *config,
		Layers:        []v1.Descriptor{*entries},
		Annotations:   map[string]string{journalRepoKey: repo, "org.opencontainers.image.created": time.Now().UTC().Format(time.RFC3339)},
	})
	if err != nil {
		return err
	}
	chunk := journalChunk{tag: tag, number: number, withdrawal: withdrawal, digests: digests}
	if err := c.pusher.Put(ctx, r.Tag(tag), rawManifest{body: body, mediaType: types.OCIManifestSchema1}); err != nil {
		j.mu.Lock()
		j.unsure = append(j.unsure, chunk)
		j.mu.Unlock()
		return j.failed(c.translate("storing the journal", JournalRepository, needPush, err))
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.landed(chunk)
	return nil
}

// journalChunk is one chunk stored in the registry: its tag, its number,
// whether it withdraws, and the digests of its entries.
type journalChunk struct {
	tag        string
	number     int64
	withdrawal bool
	digests    []string
}

// landed records that the registry holds chunk: its digests' deletion
// entries stand, or no longer do (a withdrawal), unless a later chunk
// said otherwise already. restoreAdvice names registry_restore only where
// one stands (reviews 62, 63). Called with j.mu held.
func (j *journal) landed(chunk journalChunk) {
	for _, d := range chunk.digests {
		if j.settled[d] > chunk.number {
			continue
		}
		j.settled[d] = chunk.number
		if chunk.withdrawal {
			delete(j.standing, d)
		} else {
			j.standing[d] = chunk.number
		}
	}
}

// settleUnsure asks the registry whether the chunks whose PUT got no
// answer landed (review 62): no longer a maybe either way.
func (c *Client) settleUnsure(ctx context.Context, j *journal) {
	j.mu.Lock()
	chunks := j.unsure
	j.mu.Unlock()
	var found []journalChunk
	for _, chunk := range chunks {
		there, err := c.Exists(ctx, JournalRepository, chunk.tag)
		if err != nil {
			return // still a maybe
		}
		if there {
			found = append(found, chunk)
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, chunk := range found {
		j.landed(chunk)
	}
	j.unsure = nil
}

func (j *journal) skipStore(withdrawal bool) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.noStore && (!withdrawal || len(j.unsure) == 0)
}

// storeFailed reports whether storing failed before in this apply, so that
// a registry refusing pushes costs one try.
func (j *journal) storeFailed() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.noStore
}

func (j *journal) failed(err error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.noStore = true
	return err
}

// appendFile appends lines to the journal's file in cache_dir. It returns
// the error that first made it fail, once: a file that failed is not
// written again (a later chunk's lines after a gap would be a journal with
// a hole), and whereKept says so.
func (j *journal) appendFile(lines []byte) error {
	j.mu.Lock()
	file, writing := j.file, j.file != "" && j.fileErr == nil
	j.mu.Unlock()
	if !writing {
		return nil
	}
	err := appendSynced(file, lines)
	if err != nil {
		j.mu.Lock()
		j.fileErr = err
		j.mu.Unlock()
	}
	return err
}

func appendSynced(file string, lines []byte) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(lines)
	serr := f.Sync()
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	if serr != nil {
		return serr
	}
	return cerr
}

// record reads into the journal the body of every manifest the chunk
// deletes (as runChunk decides: a manifest, and its dependents that
// nothing kept uses) and that it does not hold yet, in parallel, and
// stores them. It runs twice per chunk: before the chunk's last check,
// with what the judge before it kept, and after, with what the judge then
// keeps: a dependent kept at first and free after the last check is
// journaled then, before its DELETE (review 57: it was deleted
// unjournaled, or kept without a word), and one that stays is never
// journaled as deleted (review 58). An entry whose tags the last check
// changed (a tag removed by someone else, or pushed onto it and taken
// along) is journaled again with the tags the DELETE takes, the later
// entry standing (review 60). A manifest already gone is left out, and
// runChunk does not send its DELETE.
func (c *Client) record(ctx context.Context, v *view, j *journal, chunk []*work, kept map[string]bool) error {
	tagsOn := v.snap.tagsByDigest()
	var digests []string
	for _, w := range chunk {
		if w.done() {
			continue // skipped by the judge: nothing of it is deleted now
		}
		for i, d := range w.steps {
			deleting := (i == 0 && !w.started) || !kept[d]
			if deleting && (!j.journaled(d) || j.journaledWithOtherTags(d, tagsOn[d])) && !slices.Contains(digests, d) {
				digests = append(digests, d)
			}
		}
	}
	if len(digests) == 0 {
		return nil
	}
	r, err := c.repository(v.snap.Repository)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	bodies, err := mapParallel(ctx, c.concurrency, digests, func(ctx context.Context, digest string) (*JournalEntry, error) {
		if e, ok := j.entry(digest); ok { // read to put a tag back (readIntoJournal: no tags, no time yet), or its tags changed
			e.Tags = tagsOn[digest]
			if e.At.IsZero() {
				e.At = now
			}
			return &e, nil
		}
		desc, read := v.snap.bodies.take(digest) // the journal holds it from here on
		var err error
		if !read {
			desc, err = c.puller.Get(ctx, r.Digest(digest))
		}
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
	c.addToJournal(ctx, v.snap.Repository, j, entries)
	if v.recordedSubjects == nil {
		v.recordedSubjects = map[string]string{}
	}
	for _, e := range entries {
		if l, err := entryLinks(e); err == nil && l.subject != "" {
			v.recordedSubjects[e.Digest] = l.subject
		}
	}
	return nil
}

// rawManifest is a manifest body as the registry served it, to be put back.
type rawManifest struct {
	body      []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.body, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }
