package registry

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A registry restarted in the middle of an apply (connections refused for
// several seconds, then the same storage on the same address) is ridden
// out: every request retries within retry_max_elapsed, and the apply
// finishes what it planned.
func TestApplyRidesOutARegistryRestart(t *testing.T) {
	reg := testregistry.StartRestartable(t)
	if _, err := reg.SeedTags("app", 150, func(i int) string { return fmt.Sprintf("pr-%03d", i) }, func(int) time.Time { return time.Time{} }); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	batch := planPolicy(t, c, "app", "^pr-")
	done := make(chan error, 1)
	go func() {
		_, err := c.ExecuteBatches(context.Background(), []Batch{batch})
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the apply finished before the restart (%v): the batch is too small for this test", err)
	default:
	}
	var down time.Duration
	reg = reg.Restart(t, func() {
		start := time.Now()
		time.Sleep(8 * time.Second)
		down = time.Since(start)
	})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the apply did not ride out a %v restart: %v", down, err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the apply did not finish")
	}
	if tags, err := reg.Tags("app"); err != nil || len(tags) != 0 {
		t.Fatalf("tags left after the apply: %v (%v)", tags, err)
	}
}

// A registry that never comes back fails the request once the budget is
// spent, not before and not much after.
func TestRetryBudgetBoundsTheWait(t *testing.T) {
	c := newClient(t, Config{URL: "http://127.0.0.1:1", RetryMaxElapsed: 2 * time.Second})
	start := time.Now()
	_, err := c.Tags(context.Background(), "app")
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the registry") {
		t.Fatalf("error %v", err)
	}
	if took < time.Second || took > 4*time.Second {
		t.Fatalf("gave up after %v; want about the 2s budget", took)
	}
}

// A registry name that does not resolve is not waited for.
func TestUnknownHostIsNotRetried(t *testing.T) {
	start := time.Now()
	_, err := newClient(t, Config{URL: "http://registry.invalid"}).Tags(context.Background(), "app")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
}
