package testenv

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/demo"
)

// S3Process is a private versitygw that a fault test can stop (SIGSTOP),
// continue (SIGCONT), kill (SIGKILL) and start again on the same address
// and data directory, so what the test put survives a restart. Its
// methods are safe for concurrent use.
type S3Process struct {
	// Endpoint is the server's URL (http://127.0.0.1:port), the same
	// across restarts.
	Endpoint string

	t    testing.TB
	bin  string
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// NewS3Process starts a private, empty versitygw (with the demo bucket)
// for one test, as NewS3 does, and returns a handle on its process. It is
// killed when the test ends.
func NewS3Process(t testing.TB) *S3Process {
	t.Helper()
	bin, err := versitygwPath()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	addr := FreeAddr(t)
	p := &S3Process{Endpoint: "http://" + addr, t: t, bin: bin,
		args: []string{"--port", addr, "--access", demo.AccessKey, "--secret", demo.SecretKey,
			"--region", demo.Region, "--keep-alive", "--health", "/health", "posix", t.TempDir()}}
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.cmd != nil {
			p.cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies only once continued
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	p.Restart()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := demo.EnsureBucket(ctx, demo.Client(p.Endpoint), demo.Bucket); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return p
}

// Stop suspends the server (SIGSTOP): connections are still accepted by
// the kernel, but nothing answers.
func (p *S3Process) Stop() { p.signal(syscall.SIGSTOP) }

// Cont resumes a stopped server (SIGCONT).
func (p *S3Process) Cont() { p.signal(syscall.SIGCONT) }

// Kill kills the server (SIGKILL) and waits for it to exit: connections
// to its address are refused until Restart.
func (p *S3Process) Kill() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatalf("testenv: kill versitygw: %v", err)
	}
	<-p.done
	p.cmd = nil
}

// Restart starts the server again (killing it first if it runs) on the
// same address and data directory and returns once it answers its health
// check.
func (p *S3Process) Restart() {
	p.t.Helper()
	p.Kill()
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = dieWithTests()
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("testenv: start versitygw: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	if err := waitHealthy(p.Endpoint, 20*time.Second); err != nil {
		p.t.Fatalf("testenv: %v", err)
	}
}

func (p *S3Process) signal(sig syscall.Signal) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		p.t.Fatalf("testenv: versitygw is not running (signal %v)", sig)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("testenv: signal versitygw: %v", err)
	}
}
