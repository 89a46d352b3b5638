package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/testenv"
)

// The real process: SIGUSR1 reopens the access log file, as logrotate's
// postrotate sends it after moving the file: lines before the signal are in
// the moved file, lines after in a new file at the configured path.
func TestServeSIGUSR1ReopensAccessLog(t *testing.T) {
	endpoint := testenv.S3(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "edgegate.yaml")
	rules, _ := filepath.Abs("../../examples/rules.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`rules: %s
shutdown_timeout: 5s
s3: {endpoint: %q, region: us-east-1, path_style: true, access_key: edgegate-demo, secret_key: edgegate-demo-secret}
access_log: {enabled: true, output: access.log, flush_interval: 1ms, request_id: true}
`, rules, endpoint)), 0o644)
	logPath := filepath.Join(dir, "access.log") // relative to the config file
	pub, adm := freeAddr(t), freeAddr(t)
	cmd := exec.Command(os.Args[0], "serve", "--config", cfg, "--listen", pub, "--admin-listen", adm, "--log-format", "json")
	cmd.Env = append(os.Environ(), "EDGEGATE_TEST_RUN_MAIN=1")
	var logs lockedBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s\nlogs: %s", what, logs.String())
			}
		}
	}
	waitUntil("gateway up", func() bool {
		resp, err := http.Get("http://" + adm + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	ask := func() string {
		t.Helper()
		resp, err := http.Get("http://" + pub + "/nothing-here")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Request-Id")
	}
	lines := func(path string) string {
		b, _ := os.ReadFile(path)
		return string(b)
	}
	before := ask()
	waitUntil("first line", func() bool { return strings.Contains(lines(logPath), before) })
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitUntil("reopen logged", func() bool { return strings.Contains(logs.String(), "access log reopened on SIGUSR1") })
	after := ask()
	waitUntil("line in the new file", func() bool { return strings.Contains(lines(logPath), after) })
	if strings.Contains(lines(logPath), before) || strings.Contains(lines(logPath+".1"), after) {
		t.Fatalf("new file:\n%s\nrotated file:\n%s", lines(logPath), lines(logPath+".1"))
	}
	sc := bufio.NewScanner(strings.NewReader(lines(logPath + ".1")))
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "{") {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
	}
}
