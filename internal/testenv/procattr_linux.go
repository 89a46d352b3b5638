package testenv

import "syscall"

// dieWithTests makes a server die with the test binary that started it
// (SIGKILL on the parent's death), so no server outlives its tests.
func dieWithTests() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
