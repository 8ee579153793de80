package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of /proc's CPU times: USER_HZ, 100 on every Linux
// architecture Go builds for.
const userHZ = 100

// processCPU is the CPU time, user and system, that process pid has used
// so far, from /proc/<pid>/stat: what a storage server spent serving a GC
// tells a scan bound by the server from one bound by its client.
func processCPU(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command, which is in parentheses and may hold
	// spaces: the state is field 3 of proc(5), utime and stime 14 and 15.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the command", pid, len(fields))
	}
	var ticks int64
	for _, field := range fields[11:13] {
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// cpuMeter measures the CPU a process uses over an interval.
type cpuMeter struct {
	pid   int
	start time.Duration
	at    time.Time
}

func startCPUMeter(pid int) (cpuMeter, error) {
	used, err := processCPU(pid)
	return cpuMeter{pid, used, time.Now()}, err
}

// used is the CPU time since the meter started, and its share of one core
// over that interval.
func (m cpuMeter) used() (time.Duration, float64, error) {
	now, err := processCPU(m.pid)
	if err != nil {
		return 0, 0, err
	}
	cpu := now - m.start
	return cpu, cpu.Seconds() / time.Since(m.at).Seconds(), nil
}

// settle waits until process pid, asked nothing, uses less than
// quietShare of a core over idleWindow, for at most settleLimit, and
// returns its share over the last window and how long it waited. A
// storage server's own background work (MinIO's scanner after a store is
// written, its trash and list-cache cleanup after a GC) competes with the
// GC that follows for this machine's cores, which a real object store's
// does not: each GC starts against a quiet server.
func settle(pid int) (share float64, waited time.Duration, err error) {
	start := time.Now()
	for {
		m, err := startCPUMeter(pid)
		if err != nil {
			return 0, 0, err
		}
		time.Sleep(idleWindow)
		if _, share, err = m.used(); err != nil {
			return 0, 0, err
		}
		waited = time.Since(start)
		if share < quietShare || waited >= settleLimit {
			return share, waited, nil
		}
	}
}

const (
	idleWindow  = 10 * time.Second
	quietShare  = 0.2
	settleLimit = 5 * time.Minute
)
