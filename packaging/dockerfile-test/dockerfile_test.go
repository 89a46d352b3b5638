package dockerfiletest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
)

// root is the repository root, two levels up from this package.
const root = "../.."

// parsed is the Dockerfile as buildkit reads it, with every warning its
// parser and linter gave.
type parsed struct {
	stages   []instructions.Stage
	args     map[string]string // global ARG defaults, for FROM
	warnings []string
}

func parseDockerfile(t *testing.T, path string) parsed {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p parsed
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, w := range res.Warnings {
		p.warnings = append(p.warnings, fmt.Sprintf("%s: parser: %s", path, w.Short))
	}
	lint := linter.New(&linter.Config{
		ExperimentalAll: true,
		Warn: func(rule, desc, url, msg string, loc []parser.Range) {
			line := 0
			if len(loc) > 0 {
				line = loc[0].Start.Line
			}
			p.warnings = append(p.warnings, fmt.Sprintf("%s:%d: %s: %s", path, line, rule, msg))
		},
	})
	stages, meta, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	p.stages = stages
	p.args = map[string]string{}
	for _, a := range meta {
		for _, kv := range a.Args {
			if kv.Value != nil {
				p.args[kv.Key] = *kv.Value
			}
		}
	}
	return p
}

// TestDockerfileLints: buildkit's parser and linter (every rule,
// experimental ones too) find nothing to say.
func TestDockerfileLints(t *testing.T) {
	p := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	for _, w := range p.warnings {
		t.Error(w)
	}
}

// TestLinterCatchesMistakes: the linter above is live, not silently
// configured off: a Dockerfile with known mistakes gets warnings.
func TestLinterCatchesMistakes(t *testing.T) {
	p := parseDockerfile(t, "testdata/bad.Dockerfile")
	if len(p.warnings) == 0 {
		t.Fatal("no warnings for testdata/bad.Dockerfile")
	}
	bad := checkRules(p, nil)
	for _, want := range []string{"one stage", "latest", "USER", "HEALTHCHECK", "STOPSIGNAL", "apt lists"} {
		if !slices.ContainsFunc(bad, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("checkRules missed %q; got %q", want, bad)
		}
	}
}

// TestDockerfileRules: the image's own rules hold.
func TestDockerfileRules(t *testing.T) {
	p := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	deps := debDepends(t)
	for _, problem := range checkRules(p, deps) {
		t.Error(problem)
	}
}

var (
	aptInstall = regexp.MustCompile(`apt-get\s+install\s+([^&;|]*)`)
	numericUID = regexp.MustCompile(`^([0-9]+)(:[0-9]+)?$`)
)

// checkRules returns every broken rule of the image. deps are the .deb's
// dependencies (nil: not compared).
func checkRules(p parsed, deps []string) []string {
	var bad []string
	switch len(p.stages) {
	case 0:
		return append(bad, "no stage")
	case 1:
		bad = append(bad, "want a multi-stage build; found one stage")
	}
	for _, s := range p.stages {
		base := os.Expand(s.BaseName, func(k string) string { return p.args[k] })
		name, tag, ok := strings.Cut(base, ":")
		switch {
		case !ok || tag == "" || tag == "latest" || strings.Contains(tag, "latest"):
			bad = append(bad, fmt.Sprintf("stage %q: base %q: pin a tag, not latest", s.Name, base))
		case !strings.Contains(tag, "bookworm"):
			bad = append(bad, fmt.Sprintf("stage %q: base %q: want a Debian bookworm image", s.Name, base))
		}
		_ = name
		for _, c := range s.Commands {
			run, ok := c.(*instructions.RunCommand)
			if !ok {
				continue
			}
			line := strings.Join(run.CmdLine, " ")
			if !strings.Contains(line, "apt-get install") {
				continue
			}
			if !strings.Contains(line, "apt-get update") {
				bad = append(bad, fmt.Sprintf("stage %q: %q: apt-get install without apt-get update in the same RUN", s.Name, line))
			}
			if !strings.Contains(line, "--no-install-recommends") {
				bad = append(bad, fmt.Sprintf("stage %q: %q: want --no-install-recommends", s.Name, line))
			}
			if !strings.Contains(line, "rm -rf /var/lib/apt/lists/*") {
				bad = append(bad, fmt.Sprintf("stage %q: %q: apt lists not removed in the same RUN", s.Name, line))
			}
		}
	}
	final := p.stages[len(p.stages)-1]
	if base := os.Expand(final.BaseName, func(k string) string { return p.args[k] }); base != "debian:bookworm-slim" {
		bad = append(bad, fmt.Sprintf("runtime stage: base %q, want debian:bookworm-slim", base))
	}
	var user, stop string
	var health *instructions.HealthCheckCommand
	var entry *instructions.EntrypointCommand
	var exposed []string
	var runtimePkgs []string
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.StopSignalCommand:
			stop = c.Signal
		case *instructions.HealthCheckCommand:
			health = c
		case *instructions.EntrypointCommand:
			entry = c
		case *instructions.ExposeCommand:
			exposed = append(exposed, c.Ports...)
		case *instructions.RunCommand:
			for _, m := range aptInstall.FindAllStringSubmatch(strings.Join(c.CmdLine, " "), -1) {
				for _, f := range strings.Fields(m[1]) {
					if !strings.HasPrefix(f, "-") && f != "\\" {
						runtimePkgs = append(runtimePkgs, f)
					}
				}
			}
		case *instructions.CopyCommand:
			if c.From == "" && slices.Contains(c.SourcePaths, ".") {
				bad = append(bad, "runtime stage: COPY of the whole context; copy the binary from the build stage")
			}
		}
	}
	if m := numericUID.FindStringSubmatch(user); m == nil {
		bad = append(bad, fmt.Sprintf("runtime stage: USER %q: want a numeric non-root uid[:gid] (Kubernetes runAsNonRoot needs a number)", user))
	} else if uid, _ := strconv.Atoi(m[1]); uid == 0 {
		bad = append(bad, "runtime stage: USER is root")
	}
	if health == nil || health.Health == nil || len(health.Health.Test) < 2 || health.Health.Test[0] != "CMD" {
		bad = append(bad, "runtime stage: want HEALTHCHECK CMD [...] in exec form (the image has no curl; the binary asks /healthz)")
	} else if h := health.Health.Test[1:]; h[0] != "/usr/bin/edgegate" || !slices.Contains(h, "health") {
		bad = append(bad, fmt.Sprintf("runtime stage: HEALTHCHECK %q: want /usr/bin/edgegate health", h))
	}
	if stop != "SIGTERM" {
		bad = append(bad, fmt.Sprintf("runtime stage: STOPSIGNAL %q, want SIGTERM (starts the graceful shutdown)", stop))
	}
	if entry == nil || entry.PrependShell || len(entry.CmdLine) == 0 || entry.CmdLine[0] != "/usr/bin/edgegate" {
		bad = append(bad, "runtime stage: want ENTRYPOINT [\"/usr/bin/edgegate\"] in exec form (signals reach the gateway, not a shell)")
	}
	if len(exposed) == 0 {
		bad = append(bad, "runtime stage: no EXPOSE")
	}
	if deps != nil {
		want := slices.Clone(deps)
		slices.Sort(want)
		got := slices.Clone(runtimePkgs)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			bad = append(bad, fmt.Sprintf("runtime stage installs %q; the .deb depends on %q (packaging/nfpm.yaml): keep them equal", got, want))
		}
	}
	return bad
}

// debDepends reads packaging/nfpm.yaml's depends: list, package names
// only, less libc6 (in every Debian image).
func debDepends(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "packaging/nfpm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var deps []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "depends:":
			in = true
		case in && strings.HasPrefix(line, "  - "):
			name, _, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "  - ")), " ")
			if name != "libc6" {
				deps = append(deps, name)
			}
		case in:
			in = false
		}
	}
	if len(deps) == 0 {
		t.Fatal("packaging/nfpm.yaml: no depends: list found")
	}
	return deps
}

// TestExposeMatchesConfig: the image EXPOSEs the public port of the
// config it ships.
func TestExposeMatchesConfig(t *testing.T) {
	cfg, err := os.ReadFile(filepath.Join(root, "packaging/etc/edgegate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^listen:\s*"?\S*:([0-9]+)"?`).FindSubmatch(cfg)
	if m == nil {
		t.Fatal("packaging/etc/edgegate.yaml: no listen: line")
	}
	p := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	var exposed []string
	for _, c := range p.stages[len(p.stages)-1].Commands {
		if e, ok := c.(*instructions.ExposeCommand); ok {
			exposed = append(exposed, e.Ports...)
		}
	}
	if !slices.Contains(exposed, string(m[1])) && !slices.Contains(exposed, string(m[1])+"/tcp") {
		t.Fatalf("EXPOSE %q lacks the config's listen port %s", exposed, m[1])
	}
}

// TestDockerignoreKeepsBuildInputs: no file the build stage compiles or
// embeds, and no file a COPY names, is excluded from the build context;
// the bulky local directories are.
func TestDockerignoreKeepsBuildInputs(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	excluded := func(rel string) bool {
		ok, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for _, must := range []string{".git", ".data/geoip/x.mmdb", "dist/edgegate_1_amd64.deb"} {
		if !excluded(must) {
			t.Errorf(".dockerignore keeps %s in the context", must)
		}
	}
	needed := []string{"go.mod", "go.sum"}
	cmd := exec.Command("go", "list", "-deps", "-json=Dir,GoFiles,CgoFiles,EmbedFiles,Module", "./cmd/edgegate")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	abs, _ := filepath.Abs(root)
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var pkg struct {
			Dir                           string
			GoFiles, CgoFiles, EmbedFiles []string
			Module                        *struct{ Path string }
		}
		if err := dec.Decode(&pkg); err != nil {
			t.Fatal(err)
		}
		if pkg.Module == nil || pkg.Module.Path != "github.com/edgegate/edgegate" {
			continue
		}
		rel, err := filepath.Rel(abs, pkg.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range slices.Concat(pkg.GoFiles, pkg.CgoFiles, pkg.EmbedFiles) {
			needed = append(needed, filepath.Join(rel, f))
		}
	}
	if len(needed) < 50 {
		t.Fatalf("go list found only %d build inputs", len(needed))
	}
	p := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	for _, s := range p.stages {
		for _, c := range s.Commands {
			if cp, ok := c.(*instructions.CopyCommand); ok && cp.From == "" {
				for _, src := range cp.SourcePaths {
					if src == "." {
						continue
					}
					if _, err := os.Stat(filepath.Join(root, src)); err != nil {
						t.Errorf("COPY %s: %v", src, err)
					}
					needed = append(needed, src)
				}
			}
		}
	}
	for _, f := range needed {
		if excluded(f) {
			t.Errorf(".dockerignore excludes %s, which the image build needs", f)
		}
	}
}

// TestPackageListCompared: a runtime stage that installs other packages
// than the .deb depends on is caught.
func TestPackageListCompared(t *testing.T) {
	p := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	bad := checkRules(p, []string{"libvips42", "ca-certificates", "curl"})
	if !slices.ContainsFunc(bad, func(s string) bool { return strings.Contains(s, "keep them equal") }) {
		t.Fatalf("a missing curl was not reported: %q", bad)
	}
}
