package gateway

import (
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/edgegate/edgegate/resize"
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

// TestBuildInfoLabels: the version is the one New was given (cmd/edgegate's,
// stamped at build time), else the main module's; the revision is the
// VCS one, marked when the tree was modified.
func TestBuildInfoLabels(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}}}
	dirty := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}}}
	tests := []struct {
		name     string
		version  string
		revision string
		bi       *debug.BuildInfo
		want     prometheus.Labels
	}{
		{"stamped", "1.4.0", "", bi, prometheus.Labels{"version": "1.4.0", "goversion": "go1.26.0", "revision": "0123456789abcdef"}},
		{"stamped revision, no VCS info (-buildvcs=false)", "1.4.0", "fedcba98", &debug.BuildInfo{GoVersion: "go1.26.0"},
			prometheus.Labels{"version": "1.4.0", "goversion": "go1.26.0", "revision": "fedcba98"}},
		{"module version", "", "", bi, prometheus.Labels{"version": "v1.2.3", "goversion": "go1.26.0", "revision": "0123456789abcdef"}},
		{"devel, modified tree", "", "", dirty, prometheus.Labels{"version": "(devel)", "goversion": "go1.26.0", "revision": "0123456789abcdef-modified"}},
		{"no build info", "", "", nil, prometheus.Labels{"version": "unknown", "goversion": runtime.Version(), "revision": "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := buildLabels(tt.version, tt.revision, tt.bi); !maps.Equal(got, tt.want) {
				t.Errorf("buildLabels(%q) = %v; want %v", tt.version, got, tt.want)
			}
		})
	}
}

// TestBuildInfoServed: a live gateway exports edgegate_build_info 1 with
// its build's labels (New given no version: the main module's).
func TestBuildInfoServed(t *testing.T) {
	g := startGateway(t, demoRules(t))
	bi, _ := debug.ReadBuildInfo()
	want := buildLabels("", "", bi)
	fams := scrape(t, g)
	if v := value(fams, "edgegate_build_info", "version", want["version"], "goversion", runtime.Version(), "revision", want["revision"]); v != 1 {
		t.Errorf("edgegate_build_info%v = %v; want 1 (%v)", want, v, fams["edgegate_build_info"])
	}
}

// TestImageMetrics: an /img/ miss is timed by output format and preset
// (custom sizes under preset="custom"), its source's bytes are counted and
// its wait for admission is observed; a hit adds none of them.
func TestImageMetrics(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages())
	src, err := os.ReadFile("testdata/images/large.jpg")
	if err != nil {
		t.Fatal(err)
	}
	rel := putObject(t, "large.jpg", src, "image/jpeg")
	custom := "/img/300x200-cover/" + rel
	keys, _ := resize.DecodeKeys([]string{testSigningKey})
	custom += "?sig=" + resize.Sign(keys[0], custom)
	before := scrape(t, g)
	for _, u := range []string{"/img/thumbnail/" + rel, "/img/thumbnail/" + rel, custom} {
		resp, body := get(t, g.base+u, "Accept", "image/webp")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", u, resp.StatusCode, body)
		}
	}
	after := scrape(t, g)
	delta := func(name string, labels ...string) float64 {
		return value(after, name, labels...) - value(before, name, labels...)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"edgegate_image_render_duration_seconds", []string{"format", "webp", "preset", "thumbnail"}, 1},
		{"edgegate_image_render_duration_seconds", []string{"format", "webp", "preset", "custom"}, 1},
		{"edgegate_image_admission_wait_seconds", nil, 2},
		// One download shared by both variants' renders, or one each.
		{"edgegate_image_source_bytes_total", nil, float64(len(src))},
	} {
		if d := delta(c.name, c.labels...); d < c.want || d > 2*c.want {
			t.Errorf("%s%v grew by %v; want %v (at most twice)", c.name, c.labels, d, c.want)
		}
	}
}

// TestExistsCacheHitsCounted: a repeated existence check answered from
// memory counts in edgegate_exists_cache_hits_total; the first one, which
// asked S3, counts in edgegate_s3_head_requests_total.
func TestExistsCacheHitsCounted(t *testing.T) {
	g := startGateway(t, demoRules(t))
	u := g.base + "/r/map-tiles.zip?region=uk-london"
	get(t, u)
	before := scrape(t, g)
	for range 5 {
		if resp, _ := get(t, u); resp.StatusCode != http.StatusFound {
			t.Fatalf("/r/: %d", resp.StatusCode)
		}
	}
	after := scrape(t, g)
	if d := value(after, "edgegate_exists_cache_hits_total") - value(before, "edgegate_exists_cache_hits_total"); d < 5 {
		t.Errorf("edgegate_exists_cache_hits_total grew by %v over 5 cached answers; want at least 5", d)
	}
	if d := value(after, "edgegate_s3_head_requests_total") - value(before, "edgegate_s3_head_requests_total"); d != 0 {
		t.Errorf("cached answers sent %v HEADs", d)
	}
}

// TestMetricsCardinalityBounded: requests with many distinct keys,
// regions, client addresses, bad paths, image specs and query strings add
// no series past the first few: no label holds a key, an address or any
// other string a client chooses.
func TestMetricsCardinalityBounded(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages(), withGeo(t))
	keys, _ := resize.DecodeKeys([]string{testSigningKey})
	signed := func(p string) string { return p + "?sig=" + resize.Sign(keys[0], p) }
	round := func(i int) {
		for _, r := range []struct {
			path   string
			header []string
		}{
			{fmt.Sprintf("/r/missing-%d.zip?region=uk-london", i), nil},
			{fmt.Sprintf("/r/map-tiles.zip?region=nowhere-%d", i), nil},
			{fmt.Sprintf("/r/map-tiles.zip?x=%d", i), []string{"X-Forwarded-For", fmt.Sprintf("81.2.69.%d", 1+i%250)}},
			{fmt.Sprintf("/r/a/..%%2F%d", i), nil},
			{fmt.Sprintf("/nothing/%d", i), nil},
			{fmt.Sprintf("/img/%dx%d/photos/sample.jpg", 10+i, 10+i), nil},
			{signed(fmt.Sprintf("/img/%dx%d-cover/photos/sample.jpg", 20+i, 10+i)), []string{"Accept", "image/webp"}},
			{fmt.Sprintf("/img/thumbnail/photos/none-%d.jpg", i), nil},
			{fmt.Sprintf("/img/preset-%d/photos/sample.jpg", i), nil},
		} {
			resp, _ := get(t, g.base+r.path, r.header...)
			resp.Body.Close()
		}
	}
	series := func() (int, map[string]int) {
		per := map[string]int{}
		n := 0
		for name, f := range scrape(t, g) {
			if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
				continue
			}
			per[name] = len(f.GetMetric())
			n += len(f.GetMetric())
		}
		return n, per
	}
	for i := range 5 {
		round(i)
	}
	before, perBefore := series()
	for i := 5; i < 105; i++ {
		round(i)
	}
	after, perAfter := series()
	if after != before {
		for name, n := range perAfter {
			if n != perBefore[name] {
				t.Errorf("%s: %d series after 5 rounds, %d after 105", name, perBefore[name], n)
			}
		}
		t.Fatalf("%d series after 5 rounds of distinct requests, %d after 105; want no growth", before, after)
	}
}

// TestConnectionsByListener: connections taken in and refused are
// counted by the listener they came to (plain, tls, quic); admin
// connections apart, with none refused.
func TestConnectionsByListener(t *testing.T) {
	g := startTLSGateway(t, func(c *Config) { c.TLS.PlainHTTP = "serve"; c.MaxConnectionsPerIP = 1 })
	accepted := func(fams map[string]*dto.MetricFamily, l string) float64 {
		return value(fams, "edgegate_connections_accepted_total", "listener", l)
	}
	refused := func(fams map[string]*dto.MetricFamily, l string) float64 {
		return value(fams, "edgegate_connections_refused_total", "listener", l, "reason", "per_ip")
	}
	before := scrape(t, g.testGateway)
	// One address's second connection is over its share: plain from
	// 127.0.0.2, HTTPS from 127.0.0.3.
	dialFrom(t, "127.0.0.2", g.base)
	waitFor(t, 5*time.Second, "the plain connection taken in", func() bool { return g.srv.conns.lim.Open() == 1 })
	expectClosed(t, dialFrom(t, "127.0.0.2", g.base), "a second plain connection from 127.0.0.2")
	tlsAddr := "http://" + strings.TrimPrefix(g.https, "https://")
	dialFrom(t, "127.0.0.3", tlsAddr)
	waitFor(t, 5*time.Second, "the TLS connection taken in", func() bool { return g.srv.conns.lim.Open() == 2 })
	expectClosed(t, dialFrom(t, "127.0.0.3", tlsAddr), "a second TLS connection from 127.0.0.3")
	// HTTP/3 from 127.0.0.1 (the client's own address).
	if resp, err := h3Client(t, g.pool).Get(g.https + "/r/map-tiles.zip?region=uk-london"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	adm, err := net.Dial("tcp", strings.TrimPrefix(g.admin, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(adm, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	io.ReadAll(adm)
	adm.Close()
	after := scrape(t, g.testGateway)
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"plain accepted", accepted(after, "plain") - accepted(before, "plain"), 1},
		{"plain refused", refused(after, "plain") - refused(before, "plain"), 1},
		{"tls accepted", accepted(after, "tls") - accepted(before, "tls"), 1},
		{"tls refused", refused(after, "tls") - refused(before, "tls"), 1},
		{"quic accepted", accepted(after, "quic") - accepted(before, "quic"), 1},
		{"quic refused", refused(after, "quic") - refused(before, "quic"), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v; want %v", c.what, c.got, c.want)
		}
	}
	if d := value(after, "edgegate_admin_connections_accepted_total") - value(before, "edgegate_admin_connections_accepted_total"); d < 1 {
		t.Errorf("admin connections accepted grew by %v; want at least 1", d)
	}
	if v := value(after, "edgegate_admin_connections"); v < 1 {
		t.Errorf("edgegate_admin_connections %v while this scrape's connection is open; want ≥ 1", v)
	}
}
