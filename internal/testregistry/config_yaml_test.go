package testregistry

import (
	"context"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
)

// TestConfigYAMLGivesAWorkingDriver checks that each server's config.yml
// storage section, nested credentials included, parses as a registry
// binary would parse it into a driver that works on the same objects as
// the server's parameters.
func TestConfigYAMLGivesAWorkingDriver(t *testing.T) {
	for _, tc := range []struct {
		driver string
		start  func(t *testing.T) (yaml string, params map[string]any)
	}{
		{"s3", func(t *testing.T) (string, map[string]any) {
			m := StartMinIO(t)
			mustCreate(t, m.CreateBucket("yaml"))
			return m.S3ConfigYAML("yaml", "/reg"), m.S3Parameters("yaml", "/reg")
		}},
		{"azure", func(t *testing.T) (string, map[string]any) {
			a := StartAzurite(t)
			mustCreate(t, a.CreateContainer("yaml"))
			return a.AzureConfigYAML("yaml", "/reg"), a.AzureParameters("yaml", "/reg")
		}},
		{"gcs", func(t *testing.T) (string, map[string]any) {
			g := StartFakeGCS(t)
			mustCreate(t, g.CreateBucket("yaml"))
			return g.GCSConfigYAML("yaml", "/reg"), g.GCSParameters("yaml", "/reg")
		}},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			yaml, params := tc.start(t)
			cfg, err := configuration.Parse(strings.NewReader("version: 0.1\nstorage:\n" + yaml))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Storage.Type() != tc.driver {
				t.Fatalf("storage type %q, want %s", cfg.Storage.Type(), tc.driver)
			}
			ctx := context.Background()
			if err := OpenStorage(t, tc.driver, cfg.Storage.Parameters()).PutContent(ctx, "/probe", []byte("ok")); err != nil {
				t.Fatal(err)
			}
			got, err := OpenStorage(t, tc.driver, params).GetContent(ctx, "/probe")
			if err != nil || string(got) != "ok" {
				t.Fatalf("GetContent: got %q, %v; want \"ok\"", got, err)
			}
		})
	}
}

func mustCreate(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
