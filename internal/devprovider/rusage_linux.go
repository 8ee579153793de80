package devprovider

import (
	"os"
	"syscall"
)

// peakRSS reads the child's rusage from wait4, which on Linux covers the
// child and the descendants it waited for; ru_maxrss is in KiB.
func peakRSS(state *os.ProcessState) int64 {
	if ru, ok := state.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}
