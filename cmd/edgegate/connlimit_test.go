package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/testenv"
)

// limitOpenFiles sets the process's open-file limit (soft and hard) to n
// when n is set: the process tests' way to run the gateway short of
// descriptors.
func limitOpenFiles(n string) error {
	if n == "" {
		return nil
	}
	v, err := strconv.ParseUint(n, 10, 64)
	if err != nil {
		return fmt.Errorf("EDGEGATE_TEST_NOFILE: %w", err)
	}
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: v, Max: v})
}

// The real process with 400 descriptors and 420 idle public connections
// (the demonstration): health on admin, a cached /r/ and a new
// /r/ are still answered within 1 s, with the event loops and without.
func TestServeManyIdleConnectionsWithFewDescriptors(t *testing.T) {
	endpoint := testenv.S3(t)
	rules, _ := filepath.Abs("../../examples/rules.yaml")
	for _, loops := range []int{0, -1} {
		t.Run(fmt.Sprintf("event_loops=%d", loops), func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "edgegate.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf(`rules: %s
event_loops: %d
s3: {endpoint: %q, region: us-east-1, path_style: true, access_key: edgegate-demo, secret_key: edgegate-demo-secret}
`, rules, loops, endpoint)), 0o644)
			pub, adm := freeAddr(t), freeAddr(t)
			cmd := exec.Command(os.Args[0], "serve", "--config", cfg, "--listen", pub, "--admin-listen", adm)
			cmd.Env = append(os.Environ(), "EDGEGATE_TEST_RUN_MAIN=1", "EDGEGATE_TEST_NOFILE=400")
			var logs lockedBuffer
			cmd.Stderr = &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			fresh := &http.Client{
				Transport:     &http.Transport{DisableKeepAlives: true},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
			ask := func(url string, timeout time.Duration) error {
				fresh.Timeout = timeout
				resp, err := fresh.Get(url)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
				}
				return nil
			}
			for deadline := time.Now().Add(10 * time.Second); ask("http://"+adm+"/healthz", time.Second) != nil; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("gateway did not start: %s", logs.String())
				}
			}
			cached := "http://" + pub + "/r/maps/tiles.zip?region=uk-london"
			if err := ask(cached, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			// 420 idle connections from four addresses (each under the
			// per-address share of 256).
			for i := range 420 {
				d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%4))}}
				c, err := d.Dial("tcp", pub)
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				defer c.Close()
			}
			for _, url := range []string{
				"http://" + adm + "/healthz",
				cached,
				"http://" + pub + "/r/maps/new.zip?region=uk-london",
			} {
				if err := ask(url, time.Second); err != nil {
					t.Errorf("with 420 idle connections: %v\nlogs: %s", err, logs.String())
				}
			}
		})
	}
}
