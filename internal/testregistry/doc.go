// Package testregistry runs a real CNCF distribution v3 registry in-process,
// over filesystem storage on a loopback port, for tests, benchmarks and the
// demo, and seeds it over HTTP with go-containerregistry.
//
// The registry is distribution's own handlers.App, not a fake, because the
// provider's behaviour depends on the registry's semantics. In particular,
// deleting a manifest by digest must remove every tag that points at it.
// go-containerregistry's pkg/registry does not do that (its tags outlive a
// deleted digest), and it has no basic or token auth, no read-only mode and no
// "delete disabled" mode, so tests against it would pass while a real
// registry would behave differently.
//
// Options select the deployment shapes the provider has to handle:
// deletion disabled (405 UNSUPPORTED), read-only maintenance mode, htpasswd
// basic auth, and bearer-token auth through a small token server.
//
// StartV28 and NewV28 run Debian's docker-registry (distribution 2.8) as a
// child process instead, with the same options except token auth, and
// return the same *Registry, so a test can check that the provider behaves
// the same against both generations.
package testregistry
