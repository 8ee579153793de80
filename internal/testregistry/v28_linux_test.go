package testregistry

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

const orphanEnv = "TESTREGISTRY_V28_ORPHAN_DIR"

// TestV28ChildDiesWithTestProcess runs a copy of this test binary that
// starts a 2.8 registry and exits without closing it: Pdeathsig must take
// the child down with it.
func TestV28ChildDiesWithTestProcess(t *testing.T) {
	requireV28(t)
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestV28OrphanHelper$", "-test.count=1", "-test.v")
	// TMPDIR keeps the helper's leftover config directory inside dir.
	cmd.Env = append(os.Environ(), orphanEnv+"="+dir, "TMPDIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	pid := orphanPID(t, out)
	deadline := time.Now().Add(5 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry %d outlived the process that started it", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestV28OrphanHelper is the helper process of
// TestV28ChildDiesWithTestProcess; on its own it does nothing.
func TestV28OrphanHelper(t *testing.T) {
	dir := os.Getenv(orphanEnv)
	if dir == "" {
		t.Skip("helper process for TestV28ChildDiesWithTestProcess")
	}
	r, err := NewV28(context.Background(), WithRootDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("PID %d\n", r.child.cmd.Process.Pid)
	os.Exit(0) // no Close
}

func orphanPID(t *testing.T, out []byte) int {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "PID "); ok {
			if pid, err := strconv.Atoi(rest); err == nil {
				return pid
			}
		}
	}
	t.Fatalf("helper printed no PID:\n%s", out)
	return 0
}

// processAlive reads /proc rather than sending signal 0: the orphan is
// reparented, and a zombie nobody reaps would still take signals.
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || (stat[i+2] != 'Z' && stat[i+2] != 'X')
}
