package testregistry

import (
	"testing"
)

// WithAddr listens on host:port instead of a free port: a registry
// restarted on the same address, as a real one comes back after a
// restart.
func WithAddr(hostPort string) Option {
	return func(s *settings) { s.addr = hostPort }
}

// StartRestartable starts a registry whose storage outlives it, so that
// Restart can bring it back on the same address with the same content.
func StartRestartable(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	return Start(t, append([]Option{WithRootDir(t.TempDir())}, opts...)...)
}

// Restart stops r, waits down (the time a restart takes, during which
// connections are refused), then serves the same storage on the same
// address again: r's root directory (r must come from StartRestartable),
// or the storage opts name (WithStorage, WithRootDir).
func (r *Registry) Restart(t testing.TB, down func(), opts ...Option) *Registry {
	t.Helper()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	down()
	storage := []Option{WithRootDir(r.RootDir)}
	if len(opts) > 0 {
		storage = nil
	}
	return Start(t, append(append(storage, WithAddr(r.Host)), opts...)...)
}
