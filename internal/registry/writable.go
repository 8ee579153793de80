package registry

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"go.yaml.in/yaml/v2"
)

// ProbeRepository is where AcceptsPushes starts its upload. Starting and
// cancelling an upload stores no blob and no manifest; on a filesystem
// backend it may leave this repository's empty directory behind.
const ProbeRepository = "terraform-provider-registry/gc-probe"

const needPush action = "push"

// AcceptsPushes reports whether the registry would accept a push right
// now, by starting a blob upload and cancelling it at once. A registry in
// read-only mode (storage.maintenance.readonly) answers 405: false. Only a
// 405 that a registry sent counts (see registryAnswer): a plain one from
// another server (a proxy refusing POST, a web server at a wrong url) says
// nothing about pushes and is an error. Any other failure (no push
// permission, unreachable) is an error too: it cannot be told whether
// pushes are possible.
func (c *Client) AcceptsPushes(ctx context.Context) (bool, error) {
	repo := c.registry.Repo(ProbeRepository)
	client, err := c.writer(ctx, repo)
	if err != nil {
		return false, c.translate("checking whether the registry accepts pushes", ProbeRepository, needPush, err)
	}
	start := url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/blobs/uploads/", ProbeRepository)}
	location, err := send(ctx, client, http.MethodPost, start, http.StatusAccepted)
	var notAllowed *methodNotAllowed
	if errors.As(err, &notAllowed) {
		if notAllowed.fromRegistry {
			return false, nil
		}
		return false, fmt.Errorf("%s answered an upload with 405 Method Not Allowed, but not as a registry does (no Docker-Distribution-API-Version header, "+
			"no registry error body): something other than the registry answers there (a proxy or another server), so its read-only mode cannot be told", c.url)
	}
	if err != nil {
		return false, c.translate("checking whether the registry accepts pushes", ProbeRepository, needPush, err)
	}
	upload, err := start.Parse(location)
	if err != nil {
		return true, fmt.Errorf("the registry accepted an upload but sent an unusable Location %q: %w", location, err)
	}
	if _, err := send(ctx, client, http.MethodDelete, *upload, http.StatusNoContent, http.StatusOK, http.StatusAccepted); err != nil {
		return true, c.translate("cancelling the probe upload", ProbeRepository, needPush, err)
	}
	return true, nil
}

// methodNotAllowed is a 405 answer, and whether a registry sent it.
type methodNotAllowed struct {
	fromRegistry bool
	err          error // as transport.CheckError reads it
}

func (e *methodNotAllowed) Error() string { return e.err.Error() }
func (e *methodNotAllowed) Unwrap() error { return e.err }

// registryAnswer reports whether a response comes from a registry: it
// carries the Docker-Distribution-API-Version header (distribution sets it
// on every answer, its read-only 405 included), or its body is the
// registry API's error document ({"errors":[{"code":...}]}).
func registryAnswer(header http.Header, body []byte) bool {
	if header.Get("Docker-Distribution-API-Version") != "" {
		return true
	}
	var doc struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &doc) != nil || len(doc.Errors) == 0 {
		return false
	}
	for _, e := range doc.Errors {
		if e.Code == "" {
			return false
		}
	}
	return true
}

// send issues a bodiless request and returns the Location header of an
// expected answer, or the registry's error untranslated.
func send(ctx context.Context, client *http.Client, method string, u url.URL, expected ...int) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusMethodNotAllowed && !slices.Contains(expected, resp.StatusCode) {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return "", &methodNotAllowed{fromRegistry: registryAnswer(resp.Header, body), err: transport.CheckError(resp, expected...)}
	}
	if err := transport.CheckError(resp, expected...); err != nil {
		return "", err
	}
	return resp.Header.Get("Location"), nil
}

// StopCheck is what one address said about a registry being stopped.
type StopCheck struct {
	Stopped bool
	// Address is where the check connected: host:port, with the address it
	// resolved to when that differs ("reg.example.com:443 (10.0.0.5:443)"),
	// or a unix socket's path.
	Address string
	// Note says why an answer still counts as stopped: something other
	// than a registry answers there.
	Note string
}

// IsStopped tells whether the registry is down: one request to /v2/ at its
// url, not retried. A refused connection means stopped; any answer means
// running; anything else (a timeout, a name that does not resolve) cannot
// tell. A refused connection only shows that nothing listens at that
// address (a url with a wrong port is refused too): see ListenerStopped
// for the address the registry's own configuration names.
func (c *Client) IsStopped(ctx context.Context) (StopCheck, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/v2/", nil)
	if err != nil {
		return StopCheck{}, err
	}
	port := req.URL.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[req.URL.Scheme]
	}
	check := StopCheck{Address: net.JoinHostPort(req.URL.Hostname(), port)}
	resp, err := c.base.RoundTrip(req)
	if err == nil {
		drain(resp)
		return check, nil
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		check.Stopped = true
		check.Address = withRemote(check.Address, err)
		return check, nil
	}
	return check, fmt.Errorf("asking %s whether it is running: %w", c.url, err)
}

// withRemote adds to address the one a refused dial went to, when it
// differs (a name resolved).
func withRemote(address string, err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Addr != nil && op.Addr.String() != address {
		return address + " (" + op.Addr.String() + ")"
	}
	return address
}

// Listener is where a registry's config.yml has it serve: http.net
// ("tcp", the default, or "unix") and http.addr.
type Listener struct {
	Network string
	Address string
}

func (l Listener) String() string {
	if l.Network == "unix" {
		return "unix:" + l.Address
	}
	return l.Address
}

// ListenerFromConfigFile reads http.net and http.addr from a registry's
// config.yml; false when it names no http.addr. REGISTRY_HTTP_*
// environment overrides, which are the registry's environment, not
// Terraform's, are not applied.
func ListenerFromConfigFile(file string) (Listener, bool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return Listener{}, false, fmt.Errorf("cannot read the registry configuration file: %w", err)
	}
	var cfg struct {
		HTTP struct {
			Net  string `yaml:"net"`
			Addr string `yaml:"addr"`
		} `yaml:"http"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return Listener{}, false, fmt.Errorf("%s is not a registry configuration file: %w", file, err)
	}
	l := Listener{Network: cmp.Or(cfg.HTTP.Net, "tcp"), Address: strings.TrimSpace(cfg.HTTP.Addr)}
	return l, l.Address != "", nil
}

// ListenerStopped checks the address a registry's configuration has it
// serve, when it is on this machine (false, without a check, when it is
// not): a refused connection (or no socket) means stopped, as does an
// answer from something that is not a registry (it holds the address, so
// the registry cannot); a registry's answer, over HTTP or HTTPS, means
// running; anything else cannot tell.
func ListenerStopped(ctx context.Context, l Listener) (StopCheck, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	network, address, local, err := l.dialTarget(ctx)
	if err != nil || !local {
		return StopCheck{}, local, err
	}
	check := StopCheck{Address: address}
	if network == "unix" {
		check.Address = "unix:" + address
	}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, address)
	}
	conn, err := dial(ctx, "", "")
	switch {
	case errors.Is(err, syscall.ECONNREFUSED) || network == "unix" && errors.Is(err, fs.ErrNotExist):
		check.Stopped = true
		return check, true, nil
	case err != nil:
		return check, true, fmt.Errorf("connecting to %s: %w", check.Address, err)
	}
	conn.Close()
	// Something listens: ask it as a registry, in both schemes (a TLS
	// registry answers plain HTTP with a 400 that is no registry's).
	var failures []string
	for _, scheme := range []string{"https", "http"} {
		client := &http.Client{
			Transport: &http.Transport{
				DialContext:     dial,
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // only the answer's header is read
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		host := address
		if network == "unix" {
			host = "localhost"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+host+"/v2/", nil)
		if err != nil {
			return check, true, err
		}
		resp, err := client.Do(req)
		client.CloseIdleConnections()
		if err != nil {
			failures = append(failures, err.Error())
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		drain(resp)
		if registryAnswer(resp.Header, body) {
			return check, true, nil // a registry runs there
		}
		if check.Note == "" {
			check.Note = fmt.Sprintf("something that is not a registry answers there (%s over %s, no Docker-Distribution-API-Version header)", resp.Status, scheme)
		}
	}
	if check.Note == "" {
		return check, true, fmt.Errorf("something accepts connections at %s but answers neither HTTPS nor HTTP: %s", check.Address, strings.Join(failures, "; "))
	}
	check.Stopped = true
	return check, true, nil
}

// dialTarget returns where to connect to reach l from this machine, and
// false when l's host is not this machine's: a wildcard address is reached
// on loopback, a name through what it resolves to.
func (l Listener) dialTarget(ctx context.Context) (network, address string, local bool, err error) {
	switch l.Network {
	case "unix":
		return "unix", l.Address, true, nil
	case "tcp", "tcp4", "tcp6":
	default:
		return "", "", false, fmt.Errorf("http.net %q is neither tcp nor unix", l.Network)
	}
	host, port, err := net.SplitHostPort(l.Address)
	if err != nil {
		return "", "", false, fmt.Errorf("http.addr %q is not host:port: %w", l.Address, err)
	}
	loopback := "127.0.0.1"
	if l.Network == "tcp6" {
		loopback = "::1"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if ip != nil && ip.To4() == nil {
			loopback = "::1"
		}
		return "tcp", net.JoinHostPort(loopback, port), true, nil
	}
	if host == "localhost" {
		return "tcp", l.Address, true, nil
	}
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return "", "", false, fmt.Errorf("http.addr %q: %w", l.Address, err)
		}
		ips = ips[:0]
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	for _, ip := range ips {
		if isLocal(ip) {
			return "tcp", net.JoinHostPort(ip.String(), port), true, nil
		}
	}
	return "", "", false, nil
}

// isLocal reports whether ip is one of this machine's addresses.
func isLocal(ip net.IP) bool {
	if ip.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
