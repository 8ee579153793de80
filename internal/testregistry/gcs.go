package testregistry

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// ErrFakeGCSNotInstalled is returned by NewFakeGCS when no fake-gcs-server
// can be found.
var ErrFakeGCSNotInstalled = errors.New("fake-gcs-server is not installed: make test installs it into bin/ (or set FAKE_GCS_BIN)")

// GCSEmulatorEnv is the variable by which Google's storage client, and so
// distribution's gcs driver, talks to an emulator instead of Google: a
// process-wide setting, so one emulator per test process at a time.
const GCSEmulatorEnv = "STORAGE_EMULATOR_HOST"

const (
	fakeGCSBinary      = "fake-gcs-server"
	fakeGCSBinEnv      = "FAKE_GCS_BIN"
	fakeGCSRequiredEnv = "FAKE_GCS_REQUIRED"
)

// FakeGCS is fake-gcs-server, a Google Cloud Storage emulator, run as a
// child process on 127.0.0.1 with its data in memory, as GCS storage for
// registries (see WithStorage).
type FakeGCS struct {
	// Host is "127.0.0.1:PORT", the value of GCSEmulatorEnv.
	Host string

	// privateKey signs nothing the emulator checks, but the gcs driver
	// only starts with service account credentials holding a valid key.
	privateKey string

	lifetime
}

// StartFakeGCS starts fake-gcs-server for the duration of the test and
// points GCSEmulatorEnv at it (so the test cannot run in parallel). When it
// is missing it skips the test, unless FAKE_GCS_REQUIRED=1 is set, in which
// case it fails.
func StartFakeGCS(t *testing.T) *FakeGCS {
	t.Helper()
	requireTool(t, fakeGCSPath, ErrFakeGCSNotInstalled, fakeGCSRequiredEnv)
	g := startForTest(t, NewFakeGCS)
	t.Setenv(GCSEmulatorEnv, g.Host)
	return g
}

// NewFakeGCS is StartFakeGCS outside of a test; the caller sets
// GCSEmulatorEnv and must Close it.
func NewFakeGCS(ctx context.Context) (_ *FakeGCS, err error) {
	bin, err := fakeGCSPath()
	if err != nil {
		return nil, err
	}
	g := &FakeGCS{}
	g.begin(ctx)
	defer func() {
		if err != nil {
			_ = g.Close()
		}
	}()
	if g.privateKey, err = newPrivateKeyPEM(); err != nil {
		return nil, err
	}
	return g, g.start(bin)
}

func fakeGCSPath() (string, error) {
	return toolPath(fakeGCSBinary, fakeGCSBinEnv, ErrFakeGCSNotInstalled)
}

func (g *FakeGCS) start(bin string) error {
	server, err := childServer{name: "fake-gcs-server", bin: bin, inUse: []string{addrInUse},
		launch: func(host, port string) ([]string, readiness, error) {
			g.Host = host + ":" + port
			args := []string{"-scheme", "http", "-host", host, "-port", port, "-backend", "memory",
				"-public-host", g.Host, "-external-url", "http://" + g.Host, "-log-level", "error"}
			return args, readiness{"http://" + g.Host + "/storage/v1/b", []int{http.StatusOK}, emulatorStartTimeout}, nil
		},
	}.start(g.ctx)
	if err != nil {
		return err
	}
	g.onClose(server.stop)
	return nil
}

// CreateBucket creates a bucket.
func (g *FakeGCS) CreateBucket(name string) error {
	body := fmt.Sprintf(`{"name": %q}`, name)
	req, err := http.NewRequestWithContext(g.ctx, http.MethodPost, "http://"+g.Host+"/storage/v1/b?project=test", bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("create bucket %q: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("create bucket %q: %s", name, resp.Status)
	}
	return nil
}

// Credentials are made-up service account credentials, as the gcs
// driver's credentials parameter; the emulator checks none of them.
func (g *FakeGCS) Credentials() map[string]string {
	return map[string]string{
		"type":           "service_account",
		"project_id":     "test",
		"private_key_id": "test",
		"private_key":    g.privateKey,
		"client_email":   "registry@test.iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      "http://" + g.Host + "/token",
	}
}

// GCSParameters are the parameters of distribution's gcs storage driver
// for this emulator, for WithStorage("gcs", ...) or factory.Create(ctx,
// "gcs", ...). The bucket must exist.
func (g *FakeGCS) GCSParameters(bucket, rootDirectory string) map[string]any {
	credentials := map[any]any{} // nested as config.yml decodes it, which the driver requires
	for k, v := range g.Credentials() {
		credentials[k] = v
	}
	return map[string]any{"bucket": bucket, "rootdirectory": rootDirectory, "credentials": credentials}
}

// GCSConfigYAML is GCSParameters as the gcs entry of the storage section of
// a registry's config.yml, indented to go under "storage:".
func (g *FakeGCS) GCSConfigYAML(bucket, rootDirectory string) string {
	return driverConfigYAML("gcs", g.GCSParameters(bucket, rootDirectory))
}

func newPrivateKeyPEM() (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}
