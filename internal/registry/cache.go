package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// diskCache remembers manifest descriptions across provider runs. A
// manifest digest names its content forever, and so the image config, the
// created time and an index's children it leads to: an entry can never go
// stale. Without it, every plan would fetch every image config again; with
// it, a plan over an unchanged registry needs one request per tag.
//
// It keeps one file per repository (a pack: digest -> description), read
// once per run and written once per snapshot, not one file per digest:
// creating ten thousand small files from parallel goroutines cost seconds
// of kernel time per plan, more than the requests they save on some disks.
// The cache is best effort: any error reading or writing it means "not
// cached", and two runs writing the same pack at once only lose entries.
type diskCache struct {
	dir string
	// registry keeps the packs of two registries' same-named repositories
	// apart, so that they do not overwrite each other in turn.
	registry string
}

// pack is what the cache knows of one repository's manifests.
type pack map[string]Manifest

// packFormat names what a pack entry holds, in its file name: packs of an
// older format (without Blobs) are never read, and the first plan after an
// upgrade describes every manifest again.
const packFormat = "blobs"

// DefaultCacheDir is where descriptions are kept unless Config.CacheDir
// says otherwise: the user's cache directory.
func DefaultCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(base, "terraform-provider-registry")
}

func (c diskCache) path(repo string) (string, bool) {
	if c.dir == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(packFormat + "\x00" + c.registry + "\x00" + repo))
	return filepath.Join(c.dir, descriptionsFolder, hex.EncodeToString(sum[:])+".json"), true
}

// load reads repo's pack; entries filed under another digest than their
// own are dropped.
func (c diskCache) load(repo string) pack {
	known := pack{}
	path, ok := c.path(repo)
	if !ok {
		return known
	}
	raw, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(raw, &known) != nil {
		return pack{}
	}
	maps.DeleteFunc(known, func(digest string, m Manifest) bool { return m.Digest != digest })
	return known
}

func (c diskCache) save(repo string, p pack) {
	path, ok := c.path(repo)
	if !ok {
		return
	}
	if raw, err := json.Marshal(p); err == nil {
		_ = WriteAtomic(path, raw)
	}
}

// packs holds each repository's pack for the life of a client: read from
// disk on first use, replaced when written back.
type packs struct {
	cache diskCache
	mu    sync.Mutex
	known map[string]pack
}

// of returns repo's pack, which callers must not modify.
func (p *packs) of(repo string) pack {
	p.mu.Lock()
	defer p.mu.Unlock()
	known, ok := p.known[repo]
	if !ok {
		known = p.cache.load(repo)
		if p.known == nil {
			p.known = map[string]pack{}
		}
		p.known[repo] = known
	}
	return known
}

// remember writes what was described in repo back, when that changes the
// pack. A whole repository's descriptions replace the pack, which drops
// manifests no longer tagged; a part of it is added to the pack. An
// incomplete image is not kept: its missing part may be pushed again, and
// its age is then known.
func (p *packs) remember(repo string, described []Manifest, whole bool) {
	if p.cache.dir == "" {
		return
	}
	known := p.of(repo)
	next := pack{}
	if !whole {
		maps.Copy(next, known)
	}
	for _, m := range described {
		if m.Digest != "" && m.Incomplete == "" {
			next[m.Digest] = m
		}
	}
	if sameEntries(known, next) {
		return
	}
	p.cache.save(repo, next)
	p.mu.Lock()
	p.known[repo] = next
	p.mu.Unlock()
}

// agreesWith reports whether a cached description matches what the
// registry just answered for its digest. Content under a digest never
// changes, so a disagreement means a damaged or edited cache file: the
// entry is not used, and the registry's answer replaces it.
func (m Manifest) agreesWith(mediaType string, size int64) bool {
	return m.MediaType == mediaType && m.Size == size
}

func sameEntries(a, b pack) bool {
	return maps.EqualFunc(a, b, func(x, y Manifest) bool {
		return x.Digest == y.Digest && x.MediaType == y.MediaType && x.Size == y.Size &&
			x.Created.Equal(y.Created) && x.Subject == y.Subject && slices.Equal(x.Platforms, y.Platforms) && slices.Equal(x.Blobs, y.Blobs)
	})
}
