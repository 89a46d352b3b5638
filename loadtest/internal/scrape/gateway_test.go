package scrape_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/edgegate/edgegate/internal/testgateway"
	"github.com/edgegate/edgegate/loadtest/internal/scrape"
)

// The real gateway (demo rules, the test S3 server, libvips) exports every
// series loadtest reads, once it has answered a route and an image.
func TestGatewayExportsEveryWatchedSeries(t *testing.T) {
	g := testgateway.Start(t, testgateway.DemoConfig(t))

	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(path string, want int) {
		t.Helper()
		resp, err := client.Get(g.Public + path)
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

	resp, err := client.Get(g.Admin + "/metrics")
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
