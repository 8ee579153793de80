package gc

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest media types distribution stores, and what each references.
const (
	mediaTypeSchema1       = "application/vnd.docker.distribution.manifest.v1+json"
	mediaTypeSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	mediaTypeDockerImage   = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerList    = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// manifestBody is every field, of every manifest schema distribution
// stores, that tells the schema or names another blob or manifest.
type manifestBody struct {
	SchemaVersion *int            `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Config        *v1.Descriptor  `json:"config"`
	Layers        []v1.Descriptor `json:"layers"`
	Manifests     []v1.Descriptor `json:"manifests"`
	Subject       *v1.Descriptor  `json:"subject"`
	FSLayers      []struct {
		BlobSum digest.Digest `json:"blobSum"`
	} `json:"fsLayers"` // schema1
}

// manifestRefs is what marking needs from a manifest body.
type manifestRefs struct {
	references []digest.Digest // config, layers, index children: what distribution's References() returns
	subject    digest.Digest   // the manifest this one refers to (signature, SBOM), or ""
}

// errUnclassified is a manifest body GC cannot tell the references of.
var errUnclassified = errors.New("not a manifest garbage collection knows")

// parseManifest classifies a manifest body and returns what marking needs.
// Anything it cannot classify is an error: marking without knowing what a
// manifest references could sweep blobs it needs. Schema1 manifests
// (registry 2.x stores hold them) are read by their fsLayers; the
// reference GC stops on them instead.
func parseManifest(body []byte) (manifestRefs, error) {
	var m manifestBody
	if err := json.Unmarshal(body, &m); err != nil {
		return manifestRefs{}, fmt.Errorf("%w: not JSON (%w)", errUnclassified, err)
	}
	if m.SchemaVersion == nil {
		return manifestRefs{}, fmt.Errorf("%w: no schemaVersion", errUnclassified)
	}
	switch kind := m.kind(); kind {
	case "schema1":
		return m.schema1Refs()
	case "image", "index":
		return m.refs(), nil
	default:
		return manifestRefs{}, fmt.Errorf("%w: schemaVersion %d, mediaType %q", errUnclassified, *m.SchemaVersion, m.MediaType)
	}
}

// kind is "schema1", "image", "index" or "" (unknown).
func (m manifestBody) kind() string {
	switch {
	case *m.SchemaVersion == 1 && (m.MediaType == "" || m.MediaType == mediaTypeSchema1 || m.MediaType == mediaTypeSchema1Signed):
		return "schema1"
	case *m.SchemaVersion != 2:
		return ""
	case m.MediaType == mediaTypeDockerImage || m.MediaType == v1.MediaTypeImageManifest:
		return "image"
	case m.MediaType == mediaTypeDockerList || m.MediaType == v1.MediaTypeImageIndex:
		return "index"
	case m.MediaType == "" && m.Config != nil: // OCI lets mediaType out
		return "image"
	case m.MediaType == "" && m.Manifests != nil:
		return "index"
	}
	return ""
}

func (m manifestBody) schema1Refs() (manifestRefs, error) {
	if len(m.FSLayers) == 0 {
		return manifestRefs{}, fmt.Errorf("%w: schema1 without fsLayers", errUnclassified)
	}
	var refs manifestRefs
	for _, l := range m.FSLayers {
		refs.references = append(refs.references, l.BlobSum)
	}
	return refs, nil
}

func (m manifestBody) refs() manifestRefs {
	var refs manifestRefs
	if m.Config != nil {
		refs.references = append(refs.references, m.Config.Digest)
	}
	for _, desc := range append(m.Layers, m.Manifests...) {
		refs.references = append(refs.references, desc.Digest)
	}
	if m.Subject != nil {
		refs.subject = m.Subject.Digest
	}
	return refs
}
