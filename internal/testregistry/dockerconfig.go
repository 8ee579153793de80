package testregistry

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Private registries' credentials usually live where Docker keeps them:
// these helpers write that place for one test, as `docker login` and a
// credential helper would have.

// DockerConfigAuths is a Docker config.json holding r's credentials in an
// "auths" entry, base64("user:password") as `docker login` writes it.
func (r *Registry) DockerConfigAuths() string {
	auth := base64.StdEncoding.EncodeToString([]byte(r.Username + ":" + r.Password))
	return fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, r.Host, auth)
}

// DockerConfigHelper is a Docker config.json that sends r's host to the
// credential helper docker-credential-<helper> ("credHelpers").
func (r *Registry) DockerConfigHelper(helper string) string {
	return fmt.Sprintf(`{"credHelpers":{%q:%q}}`, r.Host, helper)
}

// UseDockerConfig points DOCKER_CONFIG at a new directory holding config
// as config.json, for the rest of the test.
func UseDockerConfig(t testing.TB, config string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
}

// InstallCredentialHelper puts docker-credential-<name> on PATH for the
// rest of the test: a script that answers `get` with r's credentials, as
// the credential helper protocol says (server URL on stdin, JSON out).
func (r *Registry) InstallCredentialHelper(t testing.TB, name string) {
	t.Helper()
	if strings.ContainsAny(r.Username+r.Password, `'"\`) {
		t.Fatal("InstallCredentialHelper: quotes and backslashes in test credentials would need escaping in the script")
	}
	script := fmt.Sprintf(`#!/bin/sh
[ "$1" = get ] || exit 1
read server
printf '{"ServerURL":"%%s","Username":"%s","Secret":"%s"}\n' "$server"
`, r.Username, r.Password)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-"+name), []byte(script), 0o755); err != nil { //nolint:gosec // an executable, on purpose
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}
