//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "mdwe: PR_SET_MDWE is Linux only")
	os.Exit(1)
}
