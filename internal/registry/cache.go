package registry

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// diskCache remembers manifest descriptions across provider runs. A
// manifest digest names its content forever, and so the image config, the
// created time and an index's children it leads to: an entry can never go
// stale, whichever registry it came from. Without it, every plan would
// fetch every image config again; with it, a plan over an unchanged
// registry needs one request per tag. The cache is best effort: any error
// reading or writing it means "not cached".
type diskCache struct{ dir string }

// DefaultCacheDir is where descriptions are kept unless Config.CacheDir
// says otherwise: the user's cache directory.
func DefaultCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(base, "terraform-provider-registry", "manifests")
}

func (c diskCache) path(digest string) (string, bool) {
	alg, hex, ok := strings.Cut(digest, ":")
	if c.dir == "" || !ok || strings.ContainsAny(alg+hex, `/\.`) {
		return "", false
	}
	return filepath.Join(c.dir, alg, hex+".json"), true
}

func (c diskCache) load(digest string) (Manifest, bool) {
	path, ok := c.path(digest)
	if !ok {
		return Manifest{}, false
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return Manifest{}, false
	}
	var m Manifest
	if json.Unmarshal(raw, &m) != nil || m.Digest != digest {
		return Manifest{}, false
	}
	return m, true
}

func (c diskCache) store(m Manifest) {
	path, ok := c.path(m.Digest)
	if !ok {
		return
	}
	raw, err := json.Marshal(m)
	if err != nil || os.MkdirAll(filepath.Dir(path), 0o755) != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(raw)
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		_ = os.Remove(tmp.Name())
		return
	}
	if os.Rename(tmp.Name(), path) != nil { // atomic: readers never see half an entry
		_ = os.Remove(tmp.Name())
	}
}
