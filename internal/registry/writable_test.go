package registry

import (
	"context"
	"testing"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestAcceptsPushes(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		opts     []testregistry.Option
		password string
		accepts  bool
		kind     Kind
	}{
		"writable":       {accepts: true},
		"read-only":      {opts: []testregistry.Option{testregistry.WithReadOnly()}},
		"token auth":     {opts: []testregistry.Option{testregistry.WithTokenAuth("ci", "secret")}, password: "secret", accepts: true},
		"wrong password": {opts: []testregistry.Option{testregistry.WithBasicAuth("ci", "secret")}, password: "wrong", kind: KindUnauthorized},
	} {
		t.Run(name, func(t *testing.T) {
			reg := testregistry.Start(t, tc.opts...)
			c := newClient(t, Config{URL: reg.URL, Username: reg.Username, Password: tc.password})
			accepts, err := c.AcceptsPushes(ctx)
			if tc.kind != KindOther {
				if KindOf(err) != tc.kind {
					t.Fatalf("err = %v (kind %d), want kind %d", err, KindOf(err), tc.kind)
				}
				return
			}
			if err != nil || accepts != tc.accepts {
				t.Fatalf("AcceptsPushes = %v, %v; want %v", accepts, err, tc.accepts)
			}
		})
	}
}
