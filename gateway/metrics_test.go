package gateway

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads the live gateway's admin /metrics, parsed with expfmt.
func scrape(t testing.TB, g *testGateway) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(g.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return fams
}

// value sums the series of fams[name] whose labels include want (name=value
// pairs): counters', gauges' and untyped values, histograms' sample
// counts. Absent is 0.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	var total float64
	for _, m := range fams[name].GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

func hasLabels(m *dto.Metric, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == want[i] && l.GetValue() == want[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// TestS3MetricsByOperation: an existence check that misses the cache is
// one HeadObject in edgegate_s3_request_duration_seconds for its bucket;
// a HEAD S3 refuses is counted in edgegate_s3_request_errors_total, a
// missing object is not.
func TestS3MetricsByOperation(t *testing.T) {
	g := startGateway(t, demoRules(t))
	head := []string{"operation", "HeadObject", "bucket", "edge-demo"}
	before := scrape(t, g)
	resp, _ := get(t, g.base+"/r/map-tiles.zip?region=uk-london")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("/r/: %d", resp.StatusCode)
	}
	after := scrape(t, g)
	if d := value(after, "edgegate_s3_request_duration_seconds", head...) - value(before, "edgegate_s3_request_duration_seconds", head...); d < 1 {
		t.Errorf("HeadObject observations grew by %v on a /r/ miss; want at least 1", d)
	}
	if n := value(after, "edgegate_s3_request_errors_total"); n != 0 {
		t.Errorf("edgegate_s3_request_errors_total = %v with S3 answering; want 0", n)
	}
}

// TestS3ErrorsByOperation: a HEAD S3 refuses (wrong credentials) is
// counted by operation and bucket.
func TestS3ErrorsByOperation(t *testing.T) {
	g := startGateway(t, demoRules(t), func(c *Config) { c.S3.SecretKey = "wrong" })
	resp, _ := get(t, g.base+"/r/map-tiles.zip?region=uk-london")
	if resp.StatusCode < 500 {
		t.Fatalf("/r/ with S3 refusing: %d; want 5xx", resp.StatusCode)
	}
	fams := scrape(t, g)
	if n := value(fams, "edgegate_s3_request_errors_total", "operation", "HeadObject", "bucket", "edge-demo"); n < 1 {
		t.Errorf("edgegate_s3_request_errors_total{operation=HeadObject,bucket=edge-demo} = %v; want at least 1", n)
	}
}
