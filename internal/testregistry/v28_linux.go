package testregistry

import "syscall"

// childSysProcAttr has the kernel SIGKILL the child when the test process
// dies without running Close (a crash, a test timeout, SIGKILL), so no
// registry outlives the tests. Strictly, Pdeathsig fires when the OS thread
// that started the child exits; Go keeps its threads for the life of the
// process except after a goroutine exits while locked to its thread, which
// nothing here does.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
