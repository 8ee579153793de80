package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Kind classifies a registry failure by what the user has to do about it.
type Kind int

const (
	KindOther Kind = iota
	KindNotFound
	KindUnauthorized
	KindForbidden
	KindDeleteDisabled
	KindReadOnly
	KindRateLimited
	KindUnavailable
	KindInterrupted
)

// Error is a registry failure translated into a sentence that says what
// went wrong and what to do next. Op names what the provider was doing.
type Error struct {
	Op   string
	Kind Kind
	Msg  string
	Err  error
}

func (e *Error) Error() string { return e.Op + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// IsNotFound reports whether err means the repository, tag or digest does not exist.
func IsNotFound(err error) bool { return KindOf(err) == KindNotFound }

// isAbsent reports whether err is the registry's 404 for a manifest or
// blob, before translation: a part of an image that it does not hold.
func isAbsent(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}

// KindOf returns the Kind of a translated error, KindOther for anything else.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindOther
}

// action is the registry permission an operation needs, named in 403 errors.
type action string

const needPull action = "pull"

// translate turns ggcr/transport errors into an *Error for the operation op
// on repository repo (empty for registry-wide calls).
func (c *Client) translate(op, repo string, need action, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	kind, msg := c.explain(repo, need, err)
	return &Error{Op: op, Kind: kind, Msg: msg, Err: err}
}

func (c *Client) explain(repo string, need action, err error) (Kind, string) {
	if errors.Is(err, context.Canceled) {
		return KindInterrupted, "interrupted (Ctrl-C, or Terraform stopped the provider): what was already deleted stays deleted, nothing else was; the next plan shows what is left"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return KindUnavailable, fmt.Sprintf("no answer from %s in time (%v); raise request_timeout or check the registry", c.url, err)
	}
	var cut *cutAnswerError
	if errors.As(err, &cut) {
		return KindUnavailable, fmt.Sprintf("the connection broke while the answer to GET %s was being read, at every retry (%v): "+
			"check the network and any proxy between here and the registry, then apply again", cut.URL, cut.Err)
	}
	var syntax *json.SyntaxError
	var wrongType *json.UnmarshalTypeError
	if errors.As(err, &syntax) || errors.As(err, &wrongType) || errors.Is(err, io.ErrUnexpectedEOF) {
		return KindOther, fmt.Sprintf("the registry at %s answered with malformed JSON (%v): a proxy or a registry that does not speak the distribution API? Check that url points at the registry itself", c.url, err)
	}
	if isCertificateError(err) {
		return KindOther, certificateMessage(c.url, err)
	}
	var redirect *RedirectError
	if errors.As(err, &redirect) {
		return KindOther, redirect.Error()
	}
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return KindUnavailable, fmt.Sprintf("cannot reach the registry at %s: %v", c.url, err)
	}
	code := diagnosticCode(terr)
	switch terr.StatusCode {
	case http.StatusUnauthorized:
		if c.fixedToken && c.answered.Load() {
			return KindUnauthorized, fmt.Sprintf("the bearer_token was accepted earlier in this run and is now refused by %s (401 Unauthorized): "+
				"it has probably expired; bearer_token is never refreshed: use username/password, which obtain fresh tokens, or a token that outlives the run", c.url)
		}
		if need != needPull && c.answered.Load() { // Gitea answers a write it does not permit with 401, not 403
			return KindForbidden, fmt.Sprintf("the registry at %s accepted these credentials earlier in this run but refused this with 401 Unauthorized: "+
				"they lack %q permission%s (on Gitea: write access to the owner's packages)", c.url, need, onRepository(repo))
		}
		return KindUnauthorized, fmt.Sprintf("the registry at %s rejected the credentials (401 Unauthorized): check username and password, bearer_token, or the docker config entry for %s", c.url, c.registry.RegistryStr())
	case http.StatusForbidden:
		return KindForbidden, fmt.Sprintf("access denied (403 Forbidden): the credentials are accepted but lack %q permission%s", need, onRepository(repo))
	case http.StatusNotFound:
		return KindNotFound, notFoundMessage(code, repo)
	case http.StatusMethodNotAllowed:
		if code == "UNSUPPORTED" {
			return KindDeleteDisabled, "deletion is disabled on this registry: set storage.delete.enabled: true in its config.yml (or REGISTRY_STORAGE_DELETE_ENABLED=true) and restart it"
		}
		return KindReadOnly, "the registry refused the write (405 Method Not Allowed): it is probably in read-only mode (storage.maintenance.readonly); disable read-only mode and retry"
	case http.StatusTooManyRequests:
		return KindRateLimited, "the registry kept rate-limiting requests (429 Too Many Requests) after every retry: lower max_concurrency, or raise retry_max_elapsed (and retry_max_attempts, if set)"
	}
	if terr.StatusCode >= 500 {
		return KindUnavailable, fmt.Sprintf("the registry failed with %d %s after every retry; check its logs (%s)", terr.StatusCode, http.StatusText(terr.StatusCode), terr.Error())
	}
	return KindOther, fmt.Sprintf("the registry answered %d %s: %s", terr.StatusCode, http.StatusText(terr.StatusCode), terr.Error())
}

func diagnosticCode(terr *transport.Error) transport.ErrorCode {
	if len(terr.Errors) == 0 {
		return ""
	}
	return terr.Errors[0].Code
}

func notFoundMessage(code transport.ErrorCode, repo string) string {
	switch code {
	case transport.NameUnknownErrorCode:
		return fmt.Sprintf("repository %q does not exist on this registry", repo)
	case transport.ManifestUnknownErrorCode:
		return fmt.Sprintf("no such tag or digest in repository %q", repo)
	case transport.BlobUnknownErrorCode:
		return fmt.Sprintf("a blob the manifest needs is gone from repository %q: garbage collection freed it, or the registry frees "+
			"a deleted manifest's blobs at once (Gitea does), so nothing it deleted can be put back", repo)
	}
	if repo == "" {
		return "not found (404): the registry does not offer this API"
	}
	return fmt.Sprintf("not found (404)%s", onRepository(repo))
}

func onRepository(repo string) string {
	if repo == "" {
		return ""
	}
	return fmt.Sprintf(" on repository %q", repo)
}

// certificateMessage says why the registry's certificate is refused and
// what fixes that: ca_pem only helps when the signer is unknown.
func certificateMessage(url string, err error) string {
	var authority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &authority):
		return fmt.Sprintf("the certificate of %s is not signed by a trusted CA (%v): set ca_pem to the certificate (PEM) of the CA that signed it, "+
			"or, for a test registry only, insecure_skip_verify = true", url, err)
	case errors.As(err, &hostname):
		return fmt.Sprintf("the certificate of %s is not issued for that host (%v): set url to a host name the certificate names, "+
			"or reissue the certificate for this one", url, err)
	}
	return fmt.Sprintf("the certificate of %s is not valid (%v): renew or fix it on the registry; "+
		"insecure_skip_verify = true skips the check (a test registry only)", url, err)
}

// isCertificateError tells a certificate the client does not trust, which
// no retry changes.
func isCertificateError(err error) bool {
	var verification *tls.CertificateVerificationError
	var authority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	return errors.As(err, &verification) || errors.As(err, &authority) || errors.As(err, &hostname)
}
