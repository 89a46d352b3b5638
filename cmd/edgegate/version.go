package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/edgegate/edgegate/resize"
)

// Stamped at build time by scripts/ldflags.sh (make build, scripts/run.sh):
//
//	go build -ldflags "$(bash scripts/ldflags.sh)" ./cmd/edgegate
//
// version is `git describe --tags --always --dirty`; serve passes it to
// the gateway (edgegate_build_info). commit is the full revision, date the
// build time (RFC 3339, UTC).
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// buildInfo is what `edgegate version` prints.
type buildInfo struct {
	Version, Commit, Date string
	GoVersion, Platform   string
	Libvips               string
}

// currentBuild gathers the stamped values, the Go toolchain's and the
// libvips library's versions. Without a stamped commit, the VCS revision
// the Go toolchain recorded is used, if any.
func currentBuild() buildInfo {
	b := buildInfo{
		Version: version, Commit: commit, Date: date,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Libvips: resize.LibvipsVersion(),
	}
	if bi, ok := debug.ReadBuildInfo(); ok && b.Commit == "" {
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && b.Commit != "" {
			b.Commit += "-modified"
		}
	}
	return b
}

// write prints b, one "name  value" line each after the first; the build
// date only when stamped.
//
//	edgegate v0.2.0-3-g1a2b3c4
//	commit   1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b
//	built    2026-12-01T06:00:00Z
//	go       go1.26.0 linux/amd64
//	libvips  8.14.1
func (b buildInfo) write(w io.Writer) {
	var s strings.Builder
	fmt.Fprintf(&s, "edgegate %s\n", orUnknown(b.Version))
	fmt.Fprintf(&s, "commit   %s\n", orUnknown(b.Commit))
	if b.Date != "" {
		fmt.Fprintf(&s, "built    %s\n", b.Date)
	}
	fmt.Fprintf(&s, "go       %s %s\n", b.GoVersion, b.Platform)
	fmt.Fprintf(&s, "libvips  %s\n", orUnknown(b.Libvips))
	io.WriteString(w, s.String())
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
