package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckReportsBothFiles: with a broken config file and a broken rules
// file, check prints every problem of both (each at file:line:col) and
// exits 1; before, it stopped at the config's first decode error.
func TestCheckReportsBothFiles(t *testing.T) {
	dir := t.TempDir()
	bad, err := os.ReadFile("testdata/bad-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "rules.yaml"), bad, 0o644)
	cfg := filepath.Join(dir, "edgegate.yaml")
	os.WriteFile(cfg, []byte("listen: 127.0.0.1:8080\nrules: rules.yaml\ns3:\n  endpont: http://127.0.0.1:7070\nread_timeout: 10\nshutdown_delay: 1h\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"check", "--config", cfg}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1; stdout %q", code, out.String())
	}
	for _, want := range []string{
		cfg + `:4:3: s3.endpont: unknown field (did you mean "endpoint"?)`,
		cfg + `:5:15: read_timeout: want a duration`,
		cfg + `:6:17: shutdown_delay must be 0s..5m`,
		filepath.Join(dir, "rules.yaml") + ":1:", // default_region names no region
		"colour",
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

// TestCheckEnvironmentOnly: with no --config and no edgegate.yaml, the
// configuration is the defaults and the EDGEGATE_ variables; a misspelt
// variable is an error with the right name; a --config that names a
// missing file is an error.
func TestCheckEnvironmentOnly(t *testing.T) {
	rules, err := filepath.Abs("../../examples/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	t.Setenv("EDGEGATE_RULES", rules)
	t.Setenv("EDGEGATE_LISTEN", "127.0.0.1:18080")
	var out, errb bytes.Buffer
	if code := run([]string{"check"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
	if !strings.Contains(out.String(), "(no config file: defaults and environment): ok (rules "+rules) {
		t.Fatalf("stdout %q", out.String())
	}

	t.Setenv("EDGEGATE_S3_ENDPONT", "http://127.0.0.1:7070")
	t.Setenv("EDGEGATE_READ_TIMEOUT", "10")
	out.Reset()
	errb.Reset()
	if code := run([]string{"check"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"EDGEGATE_S3_ENDPONT: no config field has this name (did you mean EDGEGATE_S3_ENDPOINT?)",
		`EDGEGATE_READ_TIMEOUT: read_timeout: "10": want a duration`,
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}

	errb.Reset()
	if code := run([]string{"check", "--config", "other.yaml"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no such file") {
		t.Fatalf("missing --config file: exit %d, stderr %q", code, errb.String())
	}
}
