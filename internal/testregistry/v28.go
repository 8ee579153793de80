package testregistry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"text/template"
	"time"
)

// ErrV28NotInstalled is returned by NewV28 when Debian's docker-registry
// binary cannot be found.
var ErrV28NotInstalled = errors.New("docker-registry (distribution 2.8) is not installed: apt-get install -y docker-registry")

const (
	v28Binary      = "docker-registry"
	v28DebianPath  = "/usr/bin/docker-registry"
	v28RequiredEnv = "REGISTRY_V28_REQUIRED"

	v28StartTimeout = 15 * time.Second
	v28StopTimeout  = 5 * time.Second
	// The child logs every 4xx at error level; keep the start of it, which
	// holds any startup error, without growing for the life of a long test.
	v28OutputLimit = 64 << 10
)

// StartV28 starts Debian's docker-registry (distribution 2.8) as a child
// process on 127.0.0.1 with a generated config, for the duration of the
// test. When the binary is missing it skips the test, unless
// REGISTRY_V28_REQUIRED=1 is set (make test sets it), in which case it fails.
func StartV28(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	requireV28(t)
	return mustStart(t, NewV28, opts)
}

// requireV28 skips the test, or fails it under REGISTRY_V28_REQUIRED=1,
// when docker-registry is not installed.
func requireV28(t testing.TB) {
	t.Helper()
	if _, err := v28Path(); err != nil {
		SkipUnlessRequired(t, v28RequiredEnv, fmt.Errorf("testregistry: %w", err))
	}
}

// NewV28 is StartV28 outside of a test (demo, benchmarks). The caller must
// Close it. Every option but WithTokenAuth is supported.
//
// The returned Registry is the same type as New's, and its seeding and
// inspection helpers work unchanged, but distribution 2.8 differs from v3
// (TestV28Quirks pins these): it ignores n and last on tag lists (one
// unsorted page, no Link header, "tags": null once every tag is gone),
// answers DELETE by tag with 400 DIGEST_INVALID, serves a docker schema2
// manifest read by tag without a schema2 Accept header as schema1 (another
// digest), and hides an OCI index (404) from a client that does not accept
// application/vnd.oci.image.index.v1+json.
func NewV28(ctx context.Context, opts ...Option) (*Registry, error) {
	return newRegistry(ctx, opts, (*Registry).startV28)
}

func v28Path() (string, error) {
	if path, err := exec.LookPath(v28Binary); err == nil {
		return path, nil
	}
	if _, err := os.Stat(v28DebianPath); err != nil {
		return "", ErrV28NotInstalled
	}
	return v28DebianPath, nil
}

// startV28 writes the configuration (and htpasswd file) into a private
// temporary directory, never the storage root, and runs the child on a
// free port, trying another port if the child could not bind its own.
func (r *Registry) startV28(s settings) error {
	if s.auth == authToken {
		return errors.New("WithTokenAuth is not supported by NewV28: use WithBasicAuth, or New for token auth")
	}
	bin, err := v28Path()
	if err != nil {
		return err
	}
	dir, err := r.tempDir("", "v28")
	if err != nil {
		return err
	}
	cfg := v28Config{
		RootDir:  r.RootDir,
		Delete:   !s.deleteDisabled,
		ReadOnly: s.readOnly,
		Secret:   nonce(),
		Realm:    serviceName,
	}
	if s.auth == authBasic {
		cfg.Htpasswd = filepath.Join(dir, "htpasswd")
		if err := writeHtpasswd(cfg.Htpasswd, s.user, s.password); err != nil {
			return err
		}
	}
	configPath := filepath.Join(dir, "config.yml")
	p, err := childServer{name: "docker-registry", bin: bin, inUse: []string{addrInUse},
		launch: func(host, port string) ([]string, readiness, error) {
			cfg.Addr = host + ":" + port
			r.setAddr(cfg.Addr)
			ready := readiness{r.URL + "/v2/", []int{http.StatusOK, http.StatusUnauthorized}, v28StartTimeout}
			return []string{"serve", configPath}, ready, cfg.write(configPath)
		},
	}.start(r.ctx)
	if err != nil {
		return err
	}
	r.child = p
	r.onClose(p.stop)
	return nil
}

// v28Config is docker-registry's config.yml. Strings are written quoted
// (Go's quoting is valid YAML double-quoted style for these values).
type v28Config struct {
	RootDir, Addr, Secret string
	Delete, ReadOnly      bool
	Realm, Htpasswd       string // Htpasswd "" means no auth
}

// The upload purger is off because it would walk a directory that a test
// may already have removed; health checks are off because nothing polls
// them.
var v28ConfigTemplate = template.Must(template.New("config.yml").
	Funcs(template.FuncMap{"quote": strconv.Quote}).
	Parse(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {{ quote .RootDir }}
  delete:
    enabled: {{ .Delete }}
  maintenance:
    readonly:
      enabled: {{ .ReadOnly }}
    uploadpurging:
      enabled: false
  cache:
    blobdescriptor: inmemory
http:
  addr: {{ quote .Addr }}
  secret: {{ quote .Secret }}
{{- if .Htpasswd }}
auth:
  htpasswd:
    realm: {{ quote .Realm }}
    path: {{ quote .Htpasswd }}
{{- end }}
health:
  storagedriver:
    enabled: false
`))

func (c v28Config) write(path string) error {
	var buf bytes.Buffer
	if err := v28ConfigTemplate.Execute(&buf, c); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o600)
}
