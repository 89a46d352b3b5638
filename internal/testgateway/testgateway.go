// Package testgateway starts the real gateway in-process for the tests of
// packages outside gateway (loadtest's): the demo rules, the test S3
// server from internal/testenv, loopback listeners, a clean shutdown when
// the test ends. gateway's own tests have their own helper (they cannot
// import this package: it imports gateway).
package testgateway

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/edgegate/edgegate/gateway"
	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

// Gateway is a running gateway's addresses, as base URLs.
type Gateway struct {
	Public string // http://127.0.0.1:PORT
	Admin  string
}

// DemoConfig is the demo configuration: examples/rules.yaml and the test
// S3 server with the demo credentials; no GeoIP databases.
func DemoConfig(t testing.TB) gateway.Config {
	t.Helper()
	cfg := gateway.DefaultConfig()
	_, file, _, _ := runtime.Caller(0)
	cfg.Rules = filepath.Join(filepath.Dir(file), "..", "..", "examples", "rules.yaml")
	cfg.S3.Endpoint, cfg.S3.Region, cfg.S3.PathStyle = testenv.S3(t), demo.Region, true
	cfg.S3.AccessKey, cfg.S3.SecretKey = demo.AccessKey, demo.SecretKey
	return cfg
}

// Start runs a gateway with cfg until the test ends, then shuts it down
// and fails the test if that takes over 10 s.
func Start(t testing.TB, cfg gateway.Config) Gateway {
	t.Helper()
	srv, err := gateway.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("testgateway: %v", err)
	}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pub.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListeners(ctx, pub, adm) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("testgateway: shutdown: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("testgateway: gateway did not shut down in 10s")
		}
	})
	return Gateway{Public: "http://" + pub.Addr().String(), Admin: "http://" + adm.Addr().String()}
}
