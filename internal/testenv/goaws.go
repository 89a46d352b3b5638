package testenv

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/sqsproxy"
)

// SQSQueue is a queue NewSQS creates; with DeadLetter set (a queue listed
// before or after it) its redrive policy moves a message there once it
// has been received more than MaxReceiveCount times.
type SQSQueue struct {
	Name            string
	DeadLetter      string
	MaxReceiveCount int
}

// SQS is a private goaws (github.com/Admiral-Piett/goaws, an SQS
// emulator; scripts/deps.sh installs it as goaws) for one test.
type SQS struct {
	// Endpoint speaks SQS's JSON protocol (what aws-sdk-go-v2 sends):
	// goaws v0.4.5, the newest the module proxy serves, speaks only the
	// older query protocol, so Endpoint is a translating proxy in the
	// test process in front of it (package internal/sqsproxy) that
	// passes each call through and changes only the encoding (form and
	// XML to and from JSON).
	Endpoint string
	goaws    string // goaws's own address, http://127.0.0.1:port
	proxy    *sqsproxy.Proxy
}

// NewSQS starts goaws on a free loopback port with the given queues,
// every message's visibility timeout set to visibility (goaws honours
// only this default, not the per-receive one; ChangeMessageVisibility
// works), and the JSON-protocol endpoint in front of it. Both stop when
// the test ends.
func NewSQS(t testing.TB, visibility time.Duration, queues ...SQSQueue) *SQS {
	t.Helper()
	bin, err := goawsPath()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	addr := FreeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "Local:\n  Host: 127.0.0.1\n  Port: %s\n  Region: %s\n  AccountId: \"100010001000\"\n", port, demo.Region)
	fmt.Fprintf(&cfg, "  LogToFile: false\n  EnableDuplicates: false\n  QueueAttributeDefaults:\n    VisibilityTimeout: %d\n    ReceiveMessageWaitTimeSeconds: 0\n    MaximumMessageSize: 262144\n  Queues:\n",
		int(visibility/time.Second))
	for _, q := range queues {
		fmt.Fprintf(&cfg, "    - Name: %s\n", q.Name)
		if q.DeadLetter != "" {
			fmt.Fprintf(&cfg, "      RedrivePolicy: '{\"maxReceiveCount\": %d, \"deadLetterTargetArn\":\"arn:aws:sqs:%s:100010001000:%s\"}'\n",
				q.MaxReceiveCount, demo.Region, q.DeadLetter)
		}
	}
	cfg.WriteString("  Topics: []\n")
	file := filepath.Join(t.TempDir(), "goaws.yaml")
	if err := os.WriteFile(file, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", file, "Local")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	cmd.SysProcAttr = dieWithTests()
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start goaws: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s := &SQS{goaws: "http://" + addr}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.goaws + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: goaws at %s did not answer /health in 20s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.proxy = sqsproxy.New(s.goaws, nil)
	srv := &http.Server{Handler: s.proxy, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.Endpoint = "http://" + ln.Addr().String()
	return s
}

// Calls is how many op calls (ChangeMessageVisibility, …) Endpoint has
// passed to goaws so far. Safe for concurrent use.
func (s *SQS) Calls(op string) int { return s.proxy.Calls(op) }

// QueueURL is the URL of a queue NewSQS created.
func (s *SQS) QueueURL(name string) string { return s.goaws + "/100010001000/" + name }

func goawsPath() (string, error) {
	if bin, err := exec.LookPath("goaws"); err == nil {
		return bin, nil
	}
	gobin := os.Getenv("GOBIN")
	if gobin == "" {
		out, _ := exec.Command("go", "env", "GOPATH").Output()
		gobin = filepath.Join(string(trimNL(out)), "bin")
	}
	bin := filepath.Join(gobin, "goaws")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("goaws not found in PATH or %s (scripts/deps.sh installs it)", gobin)
	}
	return bin, nil
}
