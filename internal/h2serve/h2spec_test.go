package h2serve

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestH2Spec runs h2spec (scripts/deps.sh installs it) against the server:
// every test must pass.
func TestH2Spec(t *testing.T) {
	bin, err := exec.LookPath("h2spec")
	if err != nil {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, "go", "bin", "h2spec")
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("h2spec not installed (scripts/deps.sh): %v", err)
		}
	}
	ts := startServer(t, Config{}, &testHandler{size: 100 << 10})
	_, port, _ := net.SplitHostPort(ts.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-t", "-k", "-h", "127.0.0.1", "-p", port, "-o", "3").CombinedOutput()
	if err != nil || !strings.Contains(string(out), " 0 failed") {
		t.Fatalf("h2spec: %v\n%s", err, out)
	}
	t.Logf("%s", out[strings.LastIndex(string(out), "Finished"):])
}
