package provider

import (
	"os"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

// cache_dir wins over REGISTRY_CACHE_DIR, which wins over the default; an
// empty value, from either, turns caching off.
func TestCacheDir(t *testing.T) {
	for _, c := range []struct {
		name      string
		attribute types.String
		env       *string
		want      string
	}{
		{"default", types.StringNull(), nil, registry.DefaultCacheDir()},
		{"attribute", types.StringValue("/tmp/a"), ptr("/tmp/env"), "/tmp/a"},
		{"attribute turns it off", types.StringValue(""), ptr("/tmp/env"), ""},
		{"environment", types.StringNull(), ptr("/tmp/env"), "/tmp/env"},
		{"environment turns it off", types.StringNull(), ptr(""), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env != nil {
				t.Setenv("REGISTRY_CACHE_DIR", *c.env)
			} else {
				unsetEnv(t, "REGISTRY_CACHE_DIR")
			}
			if got := cacheDir(c.attribute); got != c.want {
				t.Errorf("cacheDir = %q, want %q", got, c.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// unsetEnv removes name for the test and restores it afterwards.
func unsetEnv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "") // registers the restore
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}
