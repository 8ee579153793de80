package testregistry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	"github.com/distribution/distribution/v3/registry/auth/token"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/bcrypt"
)

const (
	serviceName = "test-registry"
	issuerName  = "test-issuer"
	tokenPath   = "/token"
	// Long enough that a slow seeding run never sees a token expire.
	tokenTTL = time.Hour
)

// configureAuth writes the credentials distribution needs into a private
// temporary directory (never into the storage root, which may be a demo's
// persistent data) and points cfg.Auth at them. For token auth it returns
// the token server, to be mounted on the registry's own address: ggcr
// v0.22.1 refuses a bearer realm on a loopback or private IP unless its
// host:port is the registry's, so a token server on a second port would be
// unusable by go-containerregistry clients.
func (r *Registry) configureAuth(s settings, cfg *configuration.Configuration) (http.Handler, error) {
	if s.auth == authNone {
		return nil, nil
	}
	dir, err := r.tempDir("", "auth")
	if err != nil {
		return nil, err
	}
	if s.auth == authBasic {
		path := filepath.Join(dir, "htpasswd")
		if err := writeHtpasswd(path, s.user, s.password); err != nil {
			return nil, err
		}
		cfg.Auth = configuration.Auth{"htpasswd": {"realm": serviceName, "path": path}}
		return nil, nil
	}

	issuer, jwks, err := newTokenIssuer(s.user, s.password)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(path, jwks, 0o600); err != nil {
		return nil, err
	}
	cfg.Auth = configuration.Auth{"token": {
		"realm":   r.URL + tokenPath,
		"service": serviceName,
		"issuer":  issuerName,
		"jwks":    path,
	}}
	return issuer, nil
}

// withTokenEndpoint serves the token server, if any, next to the registry,
// whose routes all live under /v2/.
func withTokenEndpoint(app, issuer http.Handler) http.Handler {
	if issuer == nil {
		return app
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == tokenPath {
			issuer.ServeHTTP(w, req)
			return
		}
		app.ServeHTTP(w, req)
	})
}

// writeHtpasswd uses bcrypt's minimum cost: distribution re-checks the hash
// on every request, and the default cost would make seeding crawl.
func writeHtpasswd(path, user, password string) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return err
	}
	return os.WriteFile(path, fmt.Appendf(nil, "%s:%s\n", user, hash), 0o600)
}

// tokenIssuer is a minimal Docker token server: it checks basic credentials
// and signs a JWT granting exactly the requested scopes. Granting only what
// was asked for (like real token servers) catches clients that forget to
// request the delete action.
type tokenIssuer struct {
	user, password string
	signer         jose.Signer
}

// newTokenIssuer generates a signing key and returns the JWKS that
// distribution's "jwks" option needs to trust it; the key ID in the JWKS is
// what distribution matches against the token's "kid" header.
func newTokenIssuer(user, password string) (*tokenIssuer, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	kid := token.GetJWKThumbprint(&key.PublicKey)
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, nil, err
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &key.PublicKey, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"},
	}})
	if err != nil {
		return nil, nil, err
	}
	return &tokenIssuer{user: user, password: password, signer: signer}, jwks, nil
}

func (ti *tokenIssuer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	user, password, ok := req.BasicAuth()
	if !ok || !ti.authenticate(user, password) {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+serviceName+`"`)
		http.Error(w, "invalid credentials", http.StatusUnauthorized)
		return
	}
	now := time.Now()
	signed, err := ti.issue(user, req.URL.Query()["scope"], now)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token":        signed,
		"access_token": signed,
		"expires_in":   int(tokenTTL.Seconds()),
		"issued_at":    now.UTC().Format(time.RFC3339),
	})
}

func (ti *tokenIssuer) authenticate(user, password string) bool {
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(ti.user)) == 1
	passwordOK := subtle.ConstantTimeCompare([]byte(password), []byte(ti.password)) == 1
	return userOK && passwordOK
}

func (ti *tokenIssuer) issue(user string, scopes []string, now time.Time) (string, error) {
	jti := make([]byte, 8)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := token.ClaimSet{
		Issuer:     issuerName,
		Subject:    user,
		Audience:   token.AudienceList{serviceName},
		Expiration: now.Add(tokenTTL).Unix(),
		NotBefore:  now.Unix(),
		IssuedAt:   now.Unix(),
		JWTID:      hex.EncodeToString(jti),
		Access:     parseScopes(scopes),
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := ti.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// parseScopes reads "type:name:action,action" scopes; a client may send
// several per parameter, space-separated. Repository names contain no colon,
// so the first and last colons delimit the name.
func parseScopes(params []string) []*token.ResourceActions {
	var access []*token.ResourceActions
	for _, param := range params {
		for _, scope := range strings.Fields(param) {
			first, last := strings.Index(scope, ":"), strings.LastIndex(scope, ":")
			if first < 0 || first == last {
				continue
			}
			access = append(access, &token.ResourceActions{
				Type:    scope[:first],
				Name:    scope[first+1 : last],
				Actions: strings.Split(scope[last+1:], ","),
			})
		}
	}
	return access
}
