package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The real process applies libvips' and glibc's settings itself: started
// without VIPS_CONCURRENCY or MALLOC_ARENA_MAX, its startup line reports
// what libvips says after the config's values were applied (mallopt
// succeeded: malloc_arena_max_from "config"); an operator's environment
// still wins.
func TestServeAppliesVipsAndMallocSettings(t *testing.T) {
	rules, _ := filepath.Abs("../../examples/rules.yaml")
	for _, tc := range []struct {
		name   string
		images string
		env    []string
		want   map[string]any
	}{
		{"defaults", "", nil, map[string]any{
			"vips_concurrency": 1.0, "vips_concurrency_from": "config",
			"vips_cache_max_operations": 0.0, "vips_cache_max_mem": 0.0, "vips_cache_max_files": 100.0,
			"malloc_arena_max": 2.0, "malloc_arena_max_from": "config", "vips_vector": false, "vips_vector_from": "config"}},
		{"from the config file", "images: {vips_concurrency: 3, vips_cache_max_operations: 40, vips_cache_max_mem: 1048576, vips_cache_max_files: 5, malloc_arena_max: 4, vips_vector: true}", nil,
			map[string]any{
				"vips_concurrency": 3.0, "vips_concurrency_from": "config",
				"vips_cache_max_operations": 40.0, "vips_cache_max_mem": 1048576.0, "vips_cache_max_files": 5.0,
				"malloc_arena_max": 4.0, "malloc_arena_max_from": "config", "vips_vector": true, "vips_vector_from": "config"}},
		{"the environment wins", "images: {vips_concurrency: 3, malloc_arena_max: 4, vips_vector: true}", []string{"VIPS_CONCURRENCY=2", "MALLOC_ARENA_MAX=1", "VIPS_NOVECTOR=1"},
			map[string]any{
				"vips_concurrency": 2.0, "vips_concurrency_from": "env VIPS_CONCURRENCY",
				"malloc_arena_max": 0.0, "malloc_arena_max_from": "env MALLOC_ARENA_MAX",
				"vips_vector": false, "vips_vector_from": "env VIPS_NOVECTOR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "edgegate.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf("rules: %s\n%s\n", rules, tc.images)), 0o644)
			cmd := exec.Command(os.Args[0], "serve", "--config", cfg, "--listen", freeAddr(t), "--admin-listen", freeAddr(t), "--log-format", "json")
			for _, kv := range os.Environ() {
				if name, _, _ := strings.Cut(kv, "="); name != "VIPS_CONCURRENCY" && name != "MALLOC_ARENA_MAX" && name != "GLIBC_TUNABLES" && name != "VIPS_NOVECTOR" {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, "EDGEGATE_TEST_RUN_MAIN=1")
			cmd.Env = append(cmd.Env, tc.env...)
			var logs lockedBuffer
			cmd.Stderr = &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			var line map[string]any
			for deadline := time.Now().Add(10 * time.Second); line == nil; time.Sleep(10 * time.Millisecond) {
				sc := bufio.NewScanner(bytes.NewReader([]byte(logs.String())))
				for sc.Scan() {
					var m map[string]any
					if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "edgegate starting" {
						line = m
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("no startup line within 10s:\n%s", logs.String())
				}
			}
			for k, v := range tc.want {
				if line[k] != v {
					t.Errorf("%s = %v (%T), want %v\nline: %v", k, line[k], line[k], v, line)
				}
			}
			if line["version"] != version || !strings.HasPrefix(fmt.Sprint(line["libvips"]), "8.") {
				t.Errorf("version %v, libvips %v", line["version"], line["libvips"])
			}
		})
	}
}

// Out-of-range settings are refused by check, each naming its field.
func TestCheckRefusesBadVipsSettings(t *testing.T) {
	rules, _ := filepath.Abs("../../examples/rules.yaml")
	for _, tc := range []struct{ images, want string }{
		{"vips_concurrency: -1", "vips_concurrency -1: want 0–1024"},
		{"vips_concurrency: 5000", "vips_concurrency 5000"},
		{"vips_cache_max_operations: -1", "vips_cache_max_operations -1"},
		{"vips_cache_max_mem: -5", "vips_cache_max_mem -5"},
		{"vips_cache_max_files: -1", "vips_cache_max_files -1"},
		{"malloc_arena_max: 2000", "malloc_arena_max 2000: want 0–1024"},
	} {
		cfg := filepath.Join(t.TempDir(), "edgegate.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("rules: %s\nimages:\n  %s\n", rules, tc.images)), 0o644)
		var out, errb bytes.Buffer
		// At the value's line and column ("  name: value" on line 3).
		name, _, _ := strings.Cut(tc.images, ":")
		at := fmt.Sprintf("%s:3:%d: resize: ", cfg, len(name)+5)
		if code := run([]string{"check", "--config", cfg}, &out, &errb); code != 1 || !strings.Contains(errb.String(), at+tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and %q", tc.images, code, errb.String(), at+tc.want)
		}
	}
	// From the environment: the variable is named.
	cfg := filepath.Join(t.TempDir(), "edgegate.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("rules: %s\n", rules)), 0o644)
	t.Setenv("EDGEGATE_IMAGES_MALLOC_ARENA_MAX", "-2")
	var out, errb bytes.Buffer
	if code := run([]string{"check", "--config", cfg}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "EDGEGATE_IMAGES_MALLOC_ARENA_MAX: resize: malloc_arena_max -2") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}
