package gc

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The storage section is all that is read from config.yml, and REGISTRY_*
// variables (the provider's own settings) do not override it.
func TestStorageFromConfigFile(t *testing.T) {
	t.Setenv("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "/from/the/environment")
	for _, tc := range []struct {
		name    string
		content string
		driver  string
		root    string
		err     string
	}{
		{
			name: "filesystem with delete and read-only",
			content: "version: 0.1\nhttp:\n  addr: :5000\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n" +
				"  delete:\n    enabled: true\n  maintenance:\n    readonly:\n      enabled: true\n",
			driver: "filesystem", root: "/var/lib/registry",
		},
		{name: "no storage section", content: "version: 0.1\nhttp:\n  addr: :5000\n", err: "has no storage section"},
		{name: "no driver", content: "storage:\n  delete:\n    enabled: true\n", err: "names no driver"},
		{name: "not YAML", content: "storage: [unclosed\n", err: "is not a registry configuration file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "config.yml")
			if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := StorageFromConfigFile(file)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Driver != tc.driver || s.Parameters["rootdirectory"] != tc.root {
				t.Errorf("got %s %v, want %s with rootdirectory %s", s.Driver, s.Parameters, tc.driver, tc.root)
			}
		})
	}
	if _, err := StorageFromConfigFile(filepath.Join(t.TempDir(), "missing.yml")); err == nil || !strings.Contains(err.Error(), "cannot read the registry configuration file") {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestNestParameters(t *testing.T) {
	got, err := NestParameters(map[string]string{
		"accountname": "acct", "credentials.type": "shared_key", "credentials.clientid": "id", "a.b.c": "deep",
	})
	want := map[string]any{
		"accountname": "acct",
		"credentials": map[any]any{"type": "shared_key", "clientid": "id"},
		"a":           map[any]any{"b": map[any]any{"c": "deep"}},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("NestParameters = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []map[string]string{
		{"credentials": "x", "credentials.type": "shared_key"},
		{"a.b": "x", "a.b.c": "y"},
		{"credentials.": "x"},
		{".type": "x"},
	} {
		if _, err := NestParameters(bad); err == nil {
			t.Errorf("NestParameters(%v): no error", bad)
		}
	}
}

// The inmemory driver's data lives inside the registry process: no garbage
// collection from outside can reach it, so it is refused, not opened empty.
func TestOpenRefusesTheInMemoryDriver(t *testing.T) {
	_, err := Storage{Driver: "inmemory"}.Open(t.Context())
	if err == nil || !strings.Contains(err.Error(), `unknown storage driver "inmemory"`) {
		t.Fatalf("err = %v", err)
	}
}
