// Command mdwe runs a command that may not make memory both writable and
// executable, nor make memory executable later: the kernel's
// PR_SET_MDWE (Linux 6.3+), which the command and its children keep across
// execve. It stands in for systemd's MemoryDenyWriteExecute=yes (a seccomp
// filter with the same intent) in scripts/package-test.sh, which has no
// systemd to start the unit: if libvips' run-time code generation (liborc)
// needed writable and executable memory, an image request would fail.
//
//	mdwe COMMAND [ARG]...
//
// Linux only; elsewhere it says so and exits 1 (mdwe_other.go).
package main
