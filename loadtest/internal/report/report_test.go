package report

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/loadtest/internal/scrape"
	"github.com/edgegate/edgegate/loadtest/internal/stats"
)

func testReport() *Report {
	s := stats.New()
	s.Record(stats.Result{Name: "a", Status: 302})
	s.Record(stats.Result{Name: "a", Status: 500})
	rss, gr, ratio := 3e7, 10.0, 0.75
	return &Report{
		Scenario: "s<x>", Mode: "open", Target: "http://127.0.0.1:1",
		Total: s.Summary(), ByRequest: map[string]stats.Summary{"a": s.Summary()}, Order: []string{"a"},
		Distribution: stats.Distribution(s.Latency),
		Metrics:      []scrape.Sample{{T: 0, RSSBytes: &rss, Goroutines: &gr}, {T: 5, RSSBytes: &rss, Goroutines: &gr, HitRatio: &ratio}},
	}
}

func TestWriteHTML(t *testing.T) {
	var buf bytes.Buffer
	plot := `<!doctype html><html><script>var x = "a&b";</script></html>`
	if err := WriteHTML(&buf, testReport(), plot); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		`srcdoc="&lt;!doctype html&gt;&lt;html&gt;&lt;script&gt;`, // the plot page, escaped into the attribute
		"loadtest: s&lt;x&gt;", // names are escaped
		"latency (ms) by percentile", "resident memory (MiB)", "goroutines", "image cache hit ratio",
		`<td class="err">1</td>`, // the 500, by cause
	} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(out, "<script") {
		t.Error("the plot's script escaped its iframe")
	}
	if strings.Contains(out, "image cache (MiB)") {
		t.Error("a chart for a series the gateway does not export")
	}
}

func TestWriteFileJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	if err := WriteFile(path, func(w io.Writer) error { return WriteJSON(w, testReport()) }); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	total := back["total"].(map[string]any)
	if total["requests"].(float64) != 2 || total["errors_by_status"].(map[string]any)["500"].(float64) != 1 {
		t.Errorf("total = %v", total)
	}
	if m := back["metrics"].([]any); len(m) != 2 || m[1].(map[string]any)["image_cache_hit_ratio"] != 0.75 {
		t.Errorf("metrics = %v", m)
	}
	if _, ok := back["Order"]; ok {
		t.Error("Order leaked into JSON")
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "dir.json"), func(io.Writer) error { return nil }); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func TestNiceCeil(t *testing.T) {
	tests := []struct{ in, want float64 }{{0.7, 1}, {1, 1}, {1.5, 2}, {2.2, 2.5}, {3, 5}, {7, 10}, {42, 50}, {1234, 2000}}
	for _, tt := range tests {
		if got := niceCeil(tt.in); got != tt.want {
			t.Errorf("niceCeil(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
