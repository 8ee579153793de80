package testregistry

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/azure"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/gcs"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/s3-aws"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sirupsen/logrus"
)

// Option configures a registry started by Start or New.
type Option func(*settings)

type authMode int

const (
	authNone authMode = iota
	authBasic
	authToken
)

type settings struct {
	deleteDisabled bool
	readOnly       bool
	auth           authMode
	user, password string
	rootDir        string
	storage        string // storage driver; "" is filesystem under rootDir
	storageParams  map[string]any
	// inProcess is set by New only: the other launchers write their own
	// filesystem configuration and would ignore WithStorage.
	inProcess bool
	addr      string // host:port to listen on; "" picks a free port
	ca        *CA    // serve HTTPS with a certificate it signed
}

// WithDeleteDisabled turns off storage.delete, so DELETE answers
// 405 UNSUPPORTED as on registries run with their default configuration.
func WithDeleteDisabled() Option {
	return func(s *settings) { s.deleteDisabled = true }
}

// WithReadOnly enables storage.maintenance.readonly, so every write
// (PUT, POST, PATCH, DELETE) answers 405.
func WithReadOnly() Option {
	return func(s *settings) { s.readOnly = true }
}

// WithBasicAuth protects the registry with htpasswd basic auth.
func WithBasicAuth(user, password string) Option {
	return func(s *settings) { s.auth, s.user, s.password = authBasic, user, password }
}

// WithTokenAuth protects the registry with bearer tokens issued by a token
// server, served at URL+"/token", that accepts only these credentials.
func WithTokenAuth(user, password string) Option {
	return func(s *settings) { s.auth, s.user, s.password = authToken, user, password }
}

// WithRootDir stores data in dir instead of a fresh temporary directory, so
// the data survives Close (demo) or can be shared with a second registry
// (for example a read-only one over content seeded by a writable one).
func WithRootDir(dir string) Option {
	return func(s *settings) { s.rootDir = dir }
}

// WithStorage stores data with the named distribution storage driver
// instead of the filesystem; RootDir is then empty. For S3 on MinIO:
//
//	m := StartMinIO(t)
//	r := Start(t, WithStorage("s3", m.S3Parameters("bucket", "/registry")))
//
// Only New and Start support it, and it excludes WithRootDir.
func WithStorage(driver string, params map[string]any) Option {
	return func(s *settings) { s.storage, s.storageParams = driver, maps.Clone(params) }
}

// Registry is a running registry. Its seeding and inspection methods talk to
// it over HTTP, as a client would.
type Registry struct {
	URL      string // "http://127.0.0.1:PORT", "https://" WithTLS
	Host     string // "127.0.0.1:PORT"
	RootDir  string // filesystem storage root; "" with WithStorage
	Username string // set when auth is enabled
	Password string

	// ctx bounds every seeding and inspection call; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	auth       authn.Authenticator
	transport  *http.Transport
	rt         http.RoundTripper // transport, pinned to HTTPS for a WithTLS registry
	ca         *CA
	remoteOpts []remote.Option

	child *childProcess // NewV28's docker-registry

	cleanups
}

// Start starts a registry for the duration of the test and fails the test if
// it cannot.
func Start(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	return mustStart(t, New, opts)
}

// mustStart runs newFn (New or NewV28) and closes the registry when the
// test ends.
func mustStart(t testing.TB, newFn func(context.Context, ...Option) (*Registry, error), opts []Option) *Registry {
	t.Helper()
	r, err := newFn(context.Background(), opts...)
	if err != nil {
		t.Fatalf("testregistry: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("testregistry: close: %v", err)
		}
	})
	return r
}

// New starts a registry outside of a test. The caller must Close it.
func New(ctx context.Context, opts ...Option) (*Registry, error) {
	silenceLogs()
	inProcess := func(s *settings) { s.inProcess = true }
	return newRegistry(ctx, append([]Option{inProcess}, opts...), (*Registry).startInProcess)
}

// newRegistry is the startup shared by New and NewV28: it applies the
// options, prepares the storage root, has launch bring a server up (which
// sets Host and URL), then prepares the client side. If anything fails,
// whatever was created so far is closed.
func newRegistry(ctx context.Context, opts []Option, launch func(*Registry, settings) error) (_ *Registry, err error) {
	var s settings
	for _, opt := range opts {
		opt(&s)
	}
	if err := s.checkStorage(); err != nil {
		return nil, err
	}

	r := &Registry{Username: s.user, Password: s.password}
	r.ctx, r.cancel = context.WithCancel(ctx)
	defer func() {
		if err != nil {
			_ = r.Close()
		}
	}()

	r.RootDir = s.rootDir
	if r.RootDir == "" && s.storage == "" {
		if r.RootDir, err = r.tempDir(storageBase(), "storage"); err != nil {
			return nil, err
		}
	}
	if err := launch(r, s); err != nil {
		return nil, err
	}
	r.configureClient()
	return r, nil
}

// checkStorage rejects WithStorage where it would be ignored: NewV28 would
// run docker-registry over filesystem storage rooted at "", that is, /.
func (s settings) checkStorage() error {
	switch {
	case s.storage == "":
		return nil
	case !s.inProcess:
		return errors.New("WithStorage is only supported by New and Start")
	case s.rootDir != "":
		return errors.New("WithStorage and WithRootDir exclude each other")
	}
	return nil
}

// startInProcess serves distribution v3's handlers.App from this process.
func (r *Registry) startInProcess(s settings) error {
	// The port is needed before the app exists: the token realm names it.
	ln, err := r.listen(s.addr)
	if err != nil {
		return err
	}
	r.setAddr(ln.Addr().String())
	if s.ca != nil {
		if ln, err = serveTLS(ln, s.ca); err != nil {
			return err
		}
		r.URL = "https://" + r.Host
		r.ca = s.ca
	}

	cfg, err := newConfig(s, r.RootDir)
	if err != nil {
		return err
	}
	issuer, err := r.configureAuth(s, cfg)
	if err != nil {
		return err
	}
	app, err := newApp(r.ctx, cfg)
	if err != nil {
		return err
	}
	r.onClose(app.Shutdown)
	r.serve(ln, withTokenEndpoint(app, issuer))
	return nil
}

func (r *Registry) setAddr(hostPort string) {
	r.Host = hostPort
	r.URL = "http://" + hostPort
}

// Close stops the registry and removes the storage it created, so a second
// registry sharing RootDir must be closed first (Start's cleanups run in
// that order). Data in a directory given with WithRootDir, or stored with
// WithStorage, is kept.
func (r *Registry) Close() error {
	r.cancel()
	return r.run()
}

// cleanups is what Registry and MinIO undo on Close: everything they
// created, in reverse order, once.
type cleanups struct {
	closers   []func() error
	closeOnce sync.Once
	closeErr  error
}

func (c *cleanups) onClose(f func() error) { c.closers = append(c.closers, f) }

func (c *cleanups) run() error {
	c.closeOnce.Do(func() {
		var errs []error
		for i := len(c.closers) - 1; i >= 0; i-- {
			errs = append(errs, c.closers[i]())
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// tempDir makes a directory under base (the default temporary directory
// if "" or unusable) that lives exactly as long as its owner.
func (c *cleanups) tempDir(base, purpose string) (string, error) {
	pattern := "testregistry-" + purpose + "-"
	dir, err := os.MkdirTemp(base, pattern)
	if err != nil && base != "" {
		dir, err = os.MkdirTemp("", pattern)
	}
	if err != nil {
		return "", err
	}
	c.onClose(func() error { return os.RemoveAll(dir) })
	return dir, nil
}

func (r *Registry) listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// Normally the server's Shutdown closes it first; this covers a New
	// that fails before serving.
	r.onClose(func() error {
		if err := ln.Close(); !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	})
	return ln, nil
}

func (r *Registry) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	r.onClose(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	})
}

// configureClient prepares what seeding and RemoteOptions share: one
// transport, so thousands of pushes reuse connections instead of exhausting
// ephemeral ports, and the registry's credentials.
func (r *Registry) configureClient() {
	r.transport = http.DefaultTransport.(*http.Transport).Clone()
	r.transport.Proxy = nil
	r.transport.MaxIdleConnsPerHost = 64
	r.onClose(func() error { r.transport.CloseIdleConnections(); return nil })
	r.rt = r.transport
	if r.ca != nil {
		r.transport.TLSClientConfig = &tls.Config{RootCAs: r.ca.pool(), MinVersion: tls.VersionTLS12}
		r.rt = httpsOnly{host: r.Host, next: r.transport}
	}

	r.auth = authn.Anonymous
	if r.Username != "" {
		r.auth = &authn.Basic{Username: r.Username, Password: r.Password}
	}
	r.remoteOpts = []remote.Option{remote.WithAuth(r.auth), remote.WithTransport(r.rt)}
}

// newConfig builds the configuration in Go rather than parsing YAML, so
// REGISTRY_* environment variables of the machine cannot leak in. The price
// is that defaults normally filled in by configuration.Parse must be set here.
func newConfig(s settings, rootDir string) (*configuration.Configuration, error) {
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"delete": configuration.Parameters{"enabled": !s.deleteDisabled},
			// As in the config.yml shipped with distribution's image.
			"cache": configuration.Parameters{"blobdescriptor": "inmemory"},
			"maintenance": configuration.Parameters{
				// Nested maintenance settings must be map[any]any, the type
				// the YAML decoder produces; anything else makes NewApp panic.
				"readonly": map[any]any{"enabled": s.readOnly},
				// The purger would wake up in a background goroutine and
				// walk a directory that a test may already have removed.
				"uploadpurging": map[any]any{"enabled": false},
			},
		},
	}
	if s.storage == "" {
		cfg.Storage["filesystem"] = configuration.Parameters{"rootdirectory": rootDir}
	} else {
		cfg.Storage[s.storage] = configuration.Parameters(maps.Clone(s.storageParams))
	}
	if s.storage == "azure" || s.storage == "gcs" {
		// These drivers redirect blob GETs to signed URLs that their
		// emulators cannot serve (azure: https only, which Azurite over
		// http refuses; gcs: storage.googleapis.com): blobs are served
		// through the registry instead.
		cfg.Storage["redirect"] = configuration.Parameters{"disable": true}
	}
	// Without it NewApp warns and makes one up.
	cfg.HTTP.Secret = hex.EncodeToString(secret)
	// Parse defaults both to 1000; left at zero, the catalog is always empty.
	cfg.Catalog.MaxEntries = 1000
	cfg.Tags.MaxTags = 1000
	return cfg, nil
}

// newApp turns NewApp's panics on a bad configuration into an error.
func newApp(ctx context.Context, cfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("distribution rejected the configuration: %v", p)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
}

var silenceOnce sync.Once

// silenceLogs mutes distribution, which logs every 4xx at error level
// through logrus's standard logger. Its per-context logger key is internal,
// so the global logger is the only handle. Set TESTREGISTRY_LOG=1 to see
// the logs when debugging.
func silenceLogs() {
	silenceOnce.Do(func() {
		if os.Getenv("TESTREGISTRY_LOG") != "" {
			return
		}
		logrus.SetLevel(logrus.ErrorLevel)
		logrus.SetOutput(io.Discard)
	})
}
