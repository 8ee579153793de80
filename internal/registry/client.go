// Package registry is the provider's one place for registry HTTP: catalog
// and tag paging, digest resolution, manifest description, with bounded
// concurrency, retries and plain-language errors. It knows nothing about
// Terraform.
package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// Config is everything needed to talk to one registry.
type Config struct {
	URL                string // scheme://host[:port]
	Username           string
	Password           string
	BearerToken        string
	DockerConfig       bool // resolve credentials from ~/.docker/config.json and helpers when none are given
	CAPEM              string
	InsecureSkipVerify bool
	MaxConcurrency     int
	RetryMaxAttempts   int           // 0: no limit but RetryMaxElapsed
	RetryMaxElapsed    time.Duration // how long one request may keep retrying
	RequestTimeout     time.Duration
	UserAgent          string
	// CacheDir keeps manifest descriptions across runs (see diskCache);
	// empty disables it.
	CacheDir string
	// Aliases are other host[:port] names image references give the
	// registry (see retention.NewHosts).
	Aliases []string
}

// Defaults applied when a Config field is zero.
const (
	DefaultMaxConcurrency  = 8
	DefaultRetryMaxElapsed = 60 * time.Second // rides out a registry restart
	DefaultRequestTimeout  = 30 * time.Second
	tagPageSize            = 1000 // distribution clamps n to 1000
)

// Client talks to one registry. It is safe for concurrent use and shares one
// connection pool and one token per repository scope across all calls.
type Client struct {
	registry    name.Registry
	url         string
	hosts       retention.Hosts // the names image references give the registry
	concurrency int
	auth        authn.Authenticator
	transport   http.RoundTripper // retries and the concurrency bound, under ggcr's auth
	base        http.RoundTripper // one bare attempt: for asking whether the registry is up
	puller      *remote.Puller
	pusher      *remote.Pusher
	// Content under a digest never changes, so what was learned about it is
	// kept for the life of the client (one provider run).
	manifests memo[Manifest]     // manifest digest -> description
	configs   memo[time.Time]    // config digest -> created
	writers   memo[*http.Client] // repository -> client holding a push,pull,delete token
	links     memo[links]        // manifest digest -> what its body names
	packs     packs              // repository -> descriptions kept on disk
	// applying holds a slot per repository whose deletions run, across
	// every resource of the provider (execute.go).
	applying chan struct{}
	// applyingTo serializes the applies of one repository within the
	// client: two resources whose patterns overlap (two policies, a policy
	// and an explicit deletion) would otherwise each see the other's
	// changes during its chunks as someone else's, and undo them.
	applyingTo memo[*sync.Mutex]
	// recent are the repositories retention plans read, for the apply
	// that follows (view.go).
	recent *recentReads
	// fixedToken: the credentials are a bearer_token, never refreshed;
	// answered: the registry has accepted them on a request, so a later
	// 401 means the token stopped working.
	fixedToken bool
	answered   *atomic.Bool
	cfg        Config // as built, for a replica's client (replica.go)
}

// New validates cfg and builds a client. It performs no network I/O.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg = withDefaults(cfg)
	u, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	var nameOpts []name.Option
	if u.Scheme == "http" {
		nameOpts = append(nameOpts, name.Insecure)
	}
	reg, err := name.NewRegistry(u.Host, nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", cfg.URL, err)
	}
	base, err := baseTransport(cfg)
	if err != nil {
		return nil, err
	}
	auth, err := authenticator(ctx, cfg, reg)
	if err != nil {
		return nil, err
	}
	answered := &atomic.Bool{}
	rt := transportChain(cfg, u, base, answered)
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(auth),
		remote.WithTransport(rt),
		remote.WithUserAgent(cfg.UserAgent),
		remote.WithPageSize(tagPageSize),
		remote.WithJobs(cfg.MaxConcurrency),
		// Retries are ours (retryTransport): a single ggcr attempt.
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
		remote.WithRetryStatusCodes(),
	}
	puller, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, err
	}
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return nil, err
	}
	return &Client{
		registry: reg, url: u.String(), concurrency: cfg.MaxConcurrency, hosts: retention.NewHosts(u.Scheme, u.Host, cfg.Aliases),
		auth: auth, transport: rt, base: base, puller: puller, pusher: pusher,
		packs:      packs{cache: diskCache{dir: cfg.CacheDir, registry: u.String()}},
		applying:   make(chan struct{}, cfg.MaxConcurrency),
		recent:     &recentReads{},
		fixedToken: cfg.BearerToken != "", answered: answered, cfg: cfg,
	}, nil
}

func withDefaults(cfg Config) Config {
	if cfg.MaxConcurrency == 0 {
		cfg.MaxConcurrency = DefaultMaxConcurrency
	}
	if cfg.RetryMaxElapsed == 0 {
		cfg.RetryMaxElapsed = DefaultRetryMaxElapsed
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "terraform-provider-registry"
	}
	return cfg
}

// URL is the registry's base URL as configured.
func (c *Client) URL() string { return c.url }

// Host is the registry's host[:port], as image references name it.
func (c *Client) Host() string {
	if u, err := url.Parse(c.url); err == nil {
		return u.Host
	}
	return c.url
}

// CacheDir is the directory the provider keeps its caches in; empty when
// caching is off.
func (c *Client) CacheDir() string { return c.packs.cache.dir }

// ParseURL accepts http(s)://host[:port] with no path, query or credentials.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q is not a URL: %w", raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q must start with https:// (or http:// for a plain-HTTP registry)", raw)
	case u.Host == "":
		return nil, fmt.Errorf("%q has no host: write it as https://registry.example.com[:port]", raw)
	case u.User != nil:
		return nil, fmt.Errorf("%q must not carry credentials: use username/password or bearer_token", raw)
	case strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%q must be the registry root (no path, query or fragment): the API lives at /v2/", raw)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// ErrCAPEM is New's answer to a ca_pem with no certificate in it.
var ErrCAPEM = errors.New(`ca_pem holds no PEM certificate: give the CA's certificate itself, ` +
	`from "-----BEGIN CERTIFICATE-----" to "-----END CERTIFICATE-----" (for example ca_pem = file("ca.pem"))`)

func baseTransport(cfg Config) (*http.Transport, error) {
	tlsConfig := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // an explicit, documented opt-in
	if cfg.CAPEM != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(cfg.CAPEM)) {
			return nil, ErrCAPEM
		}
		tlsConfig.RootCAs = pool
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsConfig
	// Keep as many idle connections as requests may run at once, so the
	// pool is reused instead of redialled.
	t.MaxIdleConnsPerHost = cfg.MaxConcurrency
	t.MaxIdleConns = 2 * cfg.MaxConcurrency
	return t, nil
}

func authenticator(ctx context.Context, cfg Config, reg name.Registry) (authn.Authenticator, error) {
	switch {
	case cfg.BearerToken != "":
		return authn.FromConfig(authn.AuthConfig{RegistryToken: cfg.BearerToken}), nil
	case cfg.Username != "" || cfg.Password != "":
		return &authn.Basic{Username: cfg.Username, Password: cfg.Password}, nil
	case cfg.DockerConfig:
		auth, err := authn.Resolve(ctx, authn.DefaultKeychain, reg)
		if err != nil {
			return nil, fmt.Errorf("reading docker credentials for %s: %w", reg.RegistryStr(), err)
		}
		return auth, nil
	default:
		return authn.Anonymous, nil
	}
}

// Hosts are the names image references give the registry: its url's host
// and the configured aliases.
func (c *Client) Hosts() retention.Hosts { return c.hosts }

// IsDigest reports whether reference is a digest ("sha256:<hex>") rather
// than a tag.
func IsDigest(reference string) bool {
	_, err := v1.NewHash(reference)
	return err == nil
}
