package testregistry

import (
	"errors"
	"fmt"
	"os"
	"testing"
)

// SkipUnlessRequired skips the test for want of what missing says (a tool
// not installed, a CLI without a feature), or fails it when requiredEnv=1
// says this run must have it (make test sets such variables, so that a
// missing tool never passes for a green run).
func SkipUnlessRequired(t testing.TB, requiredEnv string, missing error) {
	t.Helper()
	if os.Getenv(requiredEnv) == "1" {
		t.Fatalf("%v (%s=1 requires it)", missing, requiredEnv)
	}
	t.Skip(missing)
}

// requireTool skips the test, or fails it under requiredEnv=1, when the
// tool that path finds is not installed (path returns notInstalled). A
// tool's *_BIN that does not exist fails it: that is a broken setup, not a
// missing optional tool.
func requireTool(t testing.TB, path func() (string, error), notInstalled error, requiredEnv string) {
	t.Helper()
	_, err := path()
	switch {
	case err == nil:
	case !errors.Is(err, notInstalled):
		t.Fatalf("testregistry: %v", err)
	default:
		SkipUnlessRequired(t, requiredEnv, fmt.Errorf("testregistry: %w", err))
	}
}
