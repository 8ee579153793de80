package testregistry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
)

// ErrAzuriteNotInstalled is returned by NewAzurite when no azurite-blob can
// be found.
var ErrAzuriteNotInstalled = errors.New("azurite-blob is not installed: make test installs it into bin/ (or set AZURITE_BIN)")

const (
	azuriteBinary      = "azurite-blob"
	azuriteBinEnv      = "AZURITE_BIN"
	azuriteRequiredEnv = "AZURITE_REQUIRED"

	// Azurite's one account and its key, published in Azurite's README:
	// the emulator accepts nothing else.
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azurite is Microsoft's Azure Storage emulator (its blob service), run as
// a child process on 127.0.0.1 with its data in memory, as Azure storage
// for registries (see WithStorage).
type Azurite struct {
	// ServiceURL is the account's blob endpoint, as the azure driver's
	// serviceurl: "http://127.0.0.1:PORT/devstoreaccount1".
	ServiceURL string

	client *azblob.Client

	lifetime
}

// StartAzurite starts Azurite for the duration of the test. When it is
// missing it skips the test, unless AZURITE_REQUIRED=1 is set, in which
// case it fails.
func StartAzurite(t testing.TB) *Azurite {
	t.Helper()
	requireTool(t, azuritePath, ErrAzuriteNotInstalled, azuriteRequiredEnv)
	return startForTest(t, NewAzurite)
}

// NewAzurite is StartAzurite outside of a test. The caller must Close it.
func NewAzurite(ctx context.Context) (_ *Azurite, err error) {
	bin, err := azuritePath()
	if err != nil {
		return nil, err
	}
	a := &Azurite{}
	a.begin(ctx)
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()
	if err := a.start(bin); err != nil {
		return nil, err
	}
	cred, err := azblob.NewSharedKeyCredential(azuriteAccount, azuriteKey)
	if err != nil {
		return nil, err
	}
	a.client, err = azblob.NewClientWithSharedKeyCredential(a.ServiceURL, cred, nil)
	return a, err
}

func azuritePath() (string, error) {
	return toolPath(azuriteBinary, azuriteBinEnv, ErrAzuriteNotInstalled)
}

// start runs azurite-blob on a free port. Data lives in memory, bounded,
// and no telemetry leaves.
func (a *Azurite) start(bin string) error {
	server, err := childServer{name: "azurite", bin: bin, inUse: []string{"EADDRINUSE"},
		launch: func(host, port string) ([]string, readiness, error) {
			a.ServiceURL = "http://" + host + ":" + port + "/" + azuriteAccount
			args := []string{"--blobHost", host, "--blobPort", port,
				"--inMemoryPersistence", "--extentMemoryLimit", "512",
				"--disableTelemetry", "--skipApiVersionCheck", "--silent"}
			// An unsigned listing is refused (403) once the service is up.
			return args, readiness{a.ServiceURL + "?comp=list", []int{http.StatusForbidden}, emulatorStartTimeout}, nil
		},
	}.start(a.ctx)
	if err != nil {
		return err
	}
	a.onClose(server.stop)
	return nil
}

// CreateContainer creates a blob container.
func (a *Azurite) CreateContainer(name string) error {
	if _, err := a.client.CreateContainer(a.ctx, name, nil); err != nil {
		return fmt.Errorf("create container %q: %w", name, err)
	}
	return nil
}

// AzureParameters are the parameters of distribution's azure storage
// driver for this emulator, for WithStorage("azure", ...) or
// factory.Create(ctx, "azure", ...). The container must exist.
func (a *Azurite) AzureParameters(container, rootDirectory string) map[string]any {
	return map[string]any{
		"accountname":   azuriteAccount,
		"accountkey":    azuriteKey,
		"container":     container,
		"serviceurl":    a.ServiceURL,
		"rootdirectory": rootDirectory,
		// Nested as config.yml decodes it.
		"credentials": map[any]any{"type": "shared_key"},
	}
}

// AzureConfigYAML is AzureParameters as the azure entry of the storage
// section of a registry's config.yml, indented to go under "storage:".
func (a *Azurite) AzureConfigYAML(container, rootDirectory string) string {
	return driverConfigYAML("azure", a.AzureParameters(container, rootDirectory))
}
