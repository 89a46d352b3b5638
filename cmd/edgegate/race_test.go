//go:build race

package main

// The test binary was built with -race: TestVersionStampedByLdflags builds
// the binary with -race too, so that it reuses the packages this test
// build compiled instead of compiling all of them again.
func init() { raceBuild = true }
