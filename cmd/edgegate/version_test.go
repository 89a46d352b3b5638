package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/resize"
)

// raceBuild is set when the test binary was built with -race (race_test.go).
var raceBuild bool

func TestBuildInfoFormat(t *testing.T) {
	for _, tc := range []struct {
		b    buildInfo
		want string
	}{
		{buildInfo{Version: "v0.2.0-3-g1a2b3c4-dirty", Commit: "1a2b3c4d", Date: "2026-12-01T06:00:00Z", GoVersion: "go1.26.0", Platform: "linux/amd64", Libvips: "8.14.1"},
			"edgegate v0.2.0-3-g1a2b3c4-dirty\ncommit   1a2b3c4d\nbuilt    2026-12-01T06:00:00Z\ngo       go1.26.0 linux/amd64\nlibvips  8.14.1\n"},
		// Not stamped: no build date line, unknown commit.
		{buildInfo{Version: "dev", GoVersion: "go1.26.0", Platform: "linux/arm64", Libvips: "8.15.0"},
			"edgegate dev\ncommit   unknown\ngo       go1.26.0 linux/arm64\nlibvips  8.15.0\n"},
	} {
		var out bytes.Buffer
		tc.b.write(&out)
		if out.String() != tc.want {
			t.Errorf("got\n%s\nwant\n%s", out.String(), tc.want)
		}
	}
}

// edgegate version (and --version, -v) in the test binary: unstamped, with
// the Go and libvips versions this process runs.
func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}, {"-version"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errb.String())
		}
		want := "edgegate dev\n"
		for _, w := range []string{want, "\ngo       " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n",
			"\nlibvips  " + resize.LibvipsVersion() + "\n"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%q: lacks %q:\n%s", args, w, out.String())
			}
		}
	}
}

// The real binary, built with scripts/ldflags.sh's flags as make build
// does, prints the version, commit and build date they stamp.
func TestVersionStampedByLdflags(t *testing.T) {
	script, _ := filepath.Abs("../../scripts/ldflags.sh")
	out, err := exec.Command("bash", script).Output()
	if err != nil {
		t.Fatalf("ldflags.sh: %v", err)
	}
	ldflags := strings.TrimSpace(string(out))
	m := regexp.MustCompile(`^-X main\.version=(\S+) -X main\.commit=([0-9a-f]{40}) -X main\.date=(\S+)$`).FindStringSubmatch(ldflags)
	if m == nil {
		t.Fatalf("ldflags.sh printed %q", ldflags)
	}
	ver, commitWant, built := m[1], m[2], m[3]
	// git describe --always: TAG-N-gHASH, TAG or HASH, then -dirty.
	abbrev := strings.TrimSuffix(ver, "-dirty")
	if i := strings.LastIndex(abbrev, "-g"); i >= 0 {
		abbrev = abbrev[i+2:]
	}
	if regexp.MustCompile(`^[0-9a-f]{7,}$`).MatchString(abbrev) && !strings.HasPrefix(commitWant, abbrev) {
		t.Fatalf("version %q names another commit than %s", ver, commitWant)
	}
	if ver == "dev" {
		t.Fatalf("version %q from a git checkout", ver)
	}
	if _, err := time.Parse(time.RFC3339, built); err != nil {
		t.Fatalf("build date %q: %v", built, err)
	}
	bin := filepath.Join(t.TempDir(), "edgegate")
	args := []string{"build", "-ldflags", ldflags, "-o", bin}
	if raceBuild {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	for _, arg := range []string{"version", "--version", "-v"} {
		got, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Fatalf("%s %s: %v", bin, arg, err)
		}
		want := "edgegate " + ver + "\ncommit   " + commitWant + "\nbuilt    " + built + "\ngo       "
		if !strings.HasPrefix(string(got), want) || !strings.HasSuffix(string(got), "\nlibvips  "+resize.LibvipsVersion()+"\n") {
			t.Errorf("edgegate %s:\n%s\nwant it to start with\n%s", arg, got, want)
		}
	}
}
