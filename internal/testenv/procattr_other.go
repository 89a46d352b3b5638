//go:build !linux

package testenv

import "syscall"

// dieWithTests returns nil: only Linux can tie a child's life to its
// parent's (Pdeathsig); elsewhere a server whose tests crash is left
// running until killed.
func dieWithTests() *syscall.SysProcAttr { return nil }
