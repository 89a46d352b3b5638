package scrape_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/edgegate/edgegate/gateway"
	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/loadtest/internal/scrape"
)

// The real gateway (demo rules, the test S3 server, libvips) exports every
// series loadtest reads, once it has answered a route and an image.
func TestGatewayExportsEveryWatchedSeries(t *testing.T) {
	cfg := gateway.DefaultConfig()
	cfg.Rules = "../../../examples/rules.yaml"
	cfg.S3.Endpoint, cfg.S3.Region, cfg.S3.PathStyle = testenv.S3(t), demo.Region, true
	cfg.S3.AccessKey, cfg.S3.SecretKey = demo.AccessKey, demo.SecretKey
	srv, err := gateway.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListeners(ctx, pub, adm) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("gateway did not shut down in 10s")
		}
	})

	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(path string, want int) {
		t.Helper()
		resp, err := client.Get("http://" + pub.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("GET %s: status %d, want %d", path, resp.StatusCode, want)
		}
	}
	get("/r/banner.json", http.StatusFound)
	get("/img/thumbnail/photos/sample.jpg", http.StatusOK) // rendered: a miss
	get("/img/thumbnail/photos/sample.jpg", http.StatusOK) // from the in-process cache: a hit

	resp, err := client.Get("http://" + adm.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range scrape.Names() {
		if f, ok := fams[name]; !ok || len(f.GetMetric()) == 0 {
			t.Errorf("the gateway does not export %s", name)
		}
	}
}
