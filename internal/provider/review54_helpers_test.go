package provider

import (
	"os"
	"testing"
)

// reported54 skips a test reproducing a defect reported by review 54,
// unless REVIEW54_UNSKIP=1 (to watch it fail, or pass once fixed).
func reported54(t *testing.T, name string) {
	t.Helper()
	if os.Getenv("REVIEW54_UNSKIP") != "1" {
		t.Skip("review 54 reported: " + name)
	}
}
