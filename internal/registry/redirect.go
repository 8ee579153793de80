package registry

import (
	"fmt"
	"net/http"
)

// noWriteRedirects turns a redirect answered to anything but GET or HEAD
// into an error. Go's http.Client follows 301/302/303 by re-sending the
// request as a GET, whose 200 would then read as "deleted"; and a write
// sent on to another host is not one the user reviewed. Reads may be
// redirected (registries send blob downloads to object storage).
type noWriteRedirects struct{ next http.RoundTripper }

func (t *noWriteRedirects) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || req.Method == http.MethodGet || req.Method == http.MethodHead || resp.StatusCode < 300 || resp.StatusCode > 399 {
		return resp, err
	}
	drain(resp)
	return nil, &RedirectError{Method: req.Method, Status: resp.Status, Location: resp.Header.Get("Location")}
}

// RedirectError is a write the registry answered with a redirect, which
// is never followed: nothing was written or deleted.
type RedirectError struct {
	Method, Status, Location string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("the registry answered %s to a %s, redirecting to %q; redirects are never followed for writes, so nothing was changed: "+
		"set url to the registry itself (the address it serves the API on, without a redirecting proxy)", e.Status, e.Method, e.Location)
}
