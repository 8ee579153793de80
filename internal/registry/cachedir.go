package registry

import (
	"os"
	"path/filepath"
)

// The cache directory (cache_dir, DefaultCacheDir) holds, each in a folder
// of its own:
//
//	repositories/  description packs, one file per repository (cache.go)
//	journal/       each apply's journal as it goes, appended (journal.go)
//	plans/         the provider's plan records (provider/plan_record.go)
//
// Files are written whole through WriteAtomic, except the journal, which
// is appended and synced a chunk at a time.
const (
	descriptionsFolder = "repositories"
	journalFolder      = "journal"
	// PlansFolder holds the provider's plan records.
	PlansFolder = "plans"
)

// CacheFolder is the path of one folder of the cache directory, and
// false when caching is off (cache_dir = "").
func (c *Client) CacheFolder(folder string) (string, bool) {
	if c.CacheDir() == "" {
		return "", false
	}
	return filepath.Join(c.CacheDir(), folder), true
}

// WriteAtomic writes data as path through a temporary file in its folder
// renamed into place, so that a reader sees the old file or the new one,
// never half of one. The folder is made when missing; both are the
// user's alone (0700, 0600), as the cache holds what registries serve.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr == nil && cerr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil || cerr != nil {
		_ = os.Remove(tmp.Name())
		if werr == nil {
			werr = cerr
		}
	}
	return werr
}
