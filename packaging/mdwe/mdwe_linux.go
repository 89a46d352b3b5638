package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

const (
	prSetMDWE            = 65 // PR_SET_MDWE
	prGetMDWE            = 66 // PR_GET_MDWE
	prMDWERefuseExecGain = 1  // PR_MDWE_REFUSE_EXEC_GAIN
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mdwe COMMAND [ARG]...")
		os.Exit(2)
	}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetMDWE, prMDWERefuseExecGain, 0, 0, 0, 0); e != 0 {
		fmt.Fprintf(os.Stderr, "mdwe: prctl(PR_SET_MDWE): %v (Linux 6.3 or newer needed)\n", e)
		os.Exit(1)
	}
	if r, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prGetMDWE, 0, 0, 0, 0, 0); e != 0 || r&prMDWERefuseExecGain == 0 {
		fmt.Fprintf(os.Stderr, "mdwe: PR_GET_MDWE = %d, %v: not in effect\n", r, e)
		os.Exit(1)
	}
	path, err := exec.LookPath(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "mdwe: %v\n", err)
		os.Exit(127)
	}
	err = syscall.Exec(path, os.Args[1:], os.Environ())
	fmt.Fprintf(os.Stderr, "mdwe: exec %s: %v\n", path, err)
	os.Exit(126)
}
