package provider

import (
	"os"
	"testing"
)

// reported53 skips a test reproducing a defect reported by review 53,
// unless REVIEW53_UNSKIP=1 (to watch it fail, or pass once fixed).
func reported53(t *testing.T, name string) {
	t.Helper()
	if os.Getenv("REVIEW53_UNSKIP") != "1" {
		t.Skip("review 53 reported: " + name)
	}
}
