package gc

import (
	"path"
	"strings"

	"github.com/opencontainers/go-digest"
)

// The storage layout of distribution (registry/storage/paths.go, whose
// path mapper is unexported). Every path is relative to the driver's root:
//
//	/docker/registry/v2/blobs/<alg>/<hex[0:2]>/<hex>/data
//	/docker/registry/v2/repositories/<name>/_layers/<alg>/<hex>/link
//	/docker/registry/v2/repositories/<name>/_manifests/revisions/<alg>/<hex>/link
//	/docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
//	/docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/index/<alg>/<hex>/link
//	/docker/registry/v2/repositories/<name>/_uploads/...
const (
	storageRoot      = "/docker/registry/v2"
	blobsRoot        = storageRoot + "/blobs"
	repositoriesRoot = storageRoot + "/repositories"
)

// blobPath is the directory of a blob: deleting it deletes the blob.
func blobPath(d digest.Digest) string {
	hex := d.Encoded()
	return path.Join(blobsRoot, d.Algorithm().String(), hex[:2], hex)
}

// revisionPath is the directory linking a manifest into a repository.
func revisionPath(repo string, d digest.Digest) string {
	return path.Join(repositoriesRoot, repo, "_manifests/revisions", d.Algorithm().String(), d.Encoded())
}

// tagPath is the directory of a tag: its current link and index.
func tagPath(repo, tag string) string {
	return path.Join(repositoriesRoot, repo, "_manifests/tags", tag)
}

// tagIndexEntryPath records that a tag once pointed at a manifest.
func tagIndexEntryPath(repo, tag string, d digest.Digest) string {
	return path.Join(repositoriesRoot, repo, "_manifests/tags", tag, "index", d.Algorithm().String(), d.Encoded())
}

// layerLinkPath is the link file (not its directory: the reference GC
// deletes just the file) that makes a blob readable in a repository.
func layerLinkPath(repo string, d digest.Digest) string {
	return path.Join(repositoriesRoot, repo, "_layers", d.Algorithm().String(), d.Encoded(), "link")
}

// entryKind classifies a file found under repositoriesRoot.
type entryKind int

const (
	entryOther entryKind = iota
	entryRevision
	entryTagCurrent
	entryTagIndex
	entryLayer
)

// repoEntry is what a file path under repositoriesRoot means.
type repoEntry struct {
	kind   entryKind
	repo   string
	tag    string        // entryTagCurrent, entryTagIndex
	digest digest.Digest // entryRevision, entryTagIndex, entryLayer
}

// parseRepoFile reads the meaning of a file path under repositoriesRoot.
// Digests come from the path, as the registry writes them; a path that
// does not fit the layout is entryOther and left alone.
func parseRepoFile(p string) repoEntry {
	rel, ok := strings.CutPrefix(p, repositoriesRoot+"/")
	if !ok || path.Base(rel) != "link" {
		return repoEntry{}
	}
	for _, marker := range []string{"/_manifests/", "/_layers/"} {
		repo, rest, found := strings.Cut(rel, marker)
		if !found {
			continue
		}
		parts := strings.Split(strings.TrimSuffix(rest, "/link"), "/")
		if marker == "/_layers/" {
			return entryWithDigest(entryLayer, repo, "", parts)
		}
		switch {
		case len(parts) == 3 && parts[0] == "revisions":
			return entryWithDigest(entryRevision, repo, "", parts[1:])
		case len(parts) == 3 && parts[0] == "tags" && parts[2] == "current":
			return repoEntry{kind: entryTagCurrent, repo: repo, tag: parts[1]}
		case len(parts) == 5 && parts[0] == "tags" && parts[2] == "index":
			return entryWithDigest(entryTagIndex, repo, parts[1], parts[3:])
		}
	}
	return repoEntry{}
}

// entryWithDigest builds an entry whose path ends in <alg>/<hex>.
func entryWithDigest(kind entryKind, repo, tag string, algHex []string) repoEntry {
	if len(algHex) != 2 {
		return repoEntry{}
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(algHex[0]), algHex[1])
	if d.Validate() != nil {
		return repoEntry{}
	}
	return repoEntry{kind: kind, repo: repo, tag: tag, digest: d}
}

// parseBlobFile returns the digest of a blob's data file, or "".
func parseBlobFile(p string) digest.Digest {
	rel, ok := strings.CutPrefix(p, blobsRoot+"/")
	if !ok {
		return ""
	}
	parts := strings.Split(rel, "/")
	if len(parts) != 4 || parts[3] != "data" || !strings.HasPrefix(parts[2], parts[1]) {
		return ""
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(parts[0]), parts[2])
	if d.Validate() != nil {
		return ""
	}
	return d
}
