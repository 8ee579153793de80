package registry

import (
	"testing"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// onBothKinds61 runs test with a way to start registries of one kind:
// distribution v3 in process, then Debian's distribution 2.8.2 (skipped
// where it is not installed, unless REGISTRY_V28_REQUIRED=1), so that a
// primary and its replica are of the same kind.
func onBothKinds61(t *testing.T, test func(t *testing.T, start func(testing.TB, ...testregistry.Option) *testregistry.Registry)) {
	t.Run("distribution-v3", func(t *testing.T) { test(t, testregistry.Start) })
	t.Run("distribution-2.8", func(t *testing.T) { test(t, testregistry.StartV28) })
}
