package registry

import (
	"os"
	"testing"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// reported61 skips a test of review 61 that demonstrates a defect not
// fixed yet; REVIEW61_UNSKIP=1 runs it (and it fails while the defect is
// there).
func reported61(t *testing.T) {
	t.Helper()
	if os.Getenv("REVIEW61_UNSKIP") != "1" {
		t.Skip("review 61: reported defect, not fixed yet; Reproduce: REVIEW61_UNSKIP=1 go test ...")
	}
}

// onBothKinds61 runs test with a way to start registries of one kind:
// distribution v3 in process, then Debian's distribution 2.8.2 (skipped
// where it is not installed, unless REGISTRY_V28_REQUIRED=1), so that a
// primary and its replica are of the same kind.
func onBothKinds61(t *testing.T, test func(t *testing.T, start func(testing.TB, ...testregistry.Option) *testregistry.Registry)) {
	t.Run("distribution-v3", func(t *testing.T) { test(t, testregistry.Start) })
	t.Run("distribution-2.8", func(t *testing.T) { test(t, testregistry.StartV28) })
}
