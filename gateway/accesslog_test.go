package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/internal/evloop"
	"github.com/edgegate/edgegate/internal/h2serve"
)

// withAccessLog turns the JSON access log on, to a file in a test
// directory flushed every millisecond, and X-Request-Id echoing on.
func withAccessLog(t testing.TB, path *string) func(*Config) {
	*path = filepath.Join(t.TempDir(), "access.log")
	return func(c *Config) {
		c.AccessLog.Enabled, c.AccessLog.RequestID = true, true
		c.AccessLog.Output, c.AccessLog.FlushInterval = *path, time.Millisecond
	}
}

// logLine is an access log line as the gateway wrote it.
type logLine struct {
	Time           string  `json:"time"`
	RequestID      string  `json:"request_id"`
	ClientIP       string  `json:"client_ip"`
	ClientIPSource string  `json:"client_ip_source"`
	Proto          string  `json:"proto"`
	TLS            bool    `json:"tls"`
	Method         string  `json:"method"`
	URI            string  `json:"uri"`
	Status         int     `json:"status"`
	Bytes          int64   `json:"bytes"`
	DurationMS     float64 `json:"duration_ms"`
	Route          string  `json:"route"`
	Region         string  `json:"region"`
	RegionSource   string  `json:"region_source"`
	Rule           string  `json:"rule"`
	Bucket         string  `json:"bucket"`
	Key            string  `json:"key"`
	Cache          string  `json:"cache"`
	S3MS           float64 `json:"s3_ms"`
	UserAgent      string  `json:"user_agent"`
	Referer        string  `json:"referer"`
}

// readLog returns the lines in path, parsed (every line must parse).
func readLog(t testing.TB, path string) []logLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	defer f.Close()
	var lines []logLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("access log line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// logged waits for the line with request id rid.
func logged(t testing.TB, path, rid string) logLine {
	t.Helper()
	var found logLine
	waitFor(t, 10*time.Second, "access log line "+rid, func() bool {
		for _, l := range readLog(t, path) {
			if l.RequestID == rid {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

// TestAccessLogOnEveryTransport sends /r/ with ?region=, /r/ decided by
// GeoIP through a trusted X-Forwarded-For, an image miss then hit and a
// 400 over plain HTTP/1.1 (event loops and fasthttp), HTTPS HTTP/1.1,
// HTTP/2 and HTTP/3, and checks the lines the live gateway wrote; and that
// Explain, as `edgegate explain` runs it, tells the logged story.
func TestAccessLogOnEveryTransport(t *testing.T) {
	var path string
	g := startGateway(t, demoRules(t), withGeo(t), withImages(), withAccessLog(t, &path))
	conf, pool := selfSigned(t)
	tlsBase := serveTLSForTest(t, g, conf, nil, true)
	transports := []struct {
		name, proto string
		tls         bool
		c           *http.Client
		base        string
		format      string // a variant of its own, so that its first image request is a miss
	}{
		{"http", "h1", false, noRedirect, g.base, "jpeg"},
		{"https", "h1", true, tlsClient(pool, false), tlsBase, "webp"},
		{"h2", "h2", true, tlsClient(pool, true), tlsBase, "png"},
		{"h3", "h3", true, h3Client(t, pool), tlsBase, "avif"},
	}
	do := func(c *http.Client, method, url string, header ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", "edgegate-test/1")
		req.Header.Set("Referer", "https://example.test/page")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			check := func(l logLine, status int, route, region, source, rule, key string) {
				t.Helper()
				if l.Status != status || l.Route != route || l.Region != region || l.RegionSource != source || l.Rule != rule || l.Key != key ||
					l.Proto != tr.proto || l.TLS != tr.tls || l.UserAgent != "edgegate-test/1" || l.Referer != "https://example.test/page" ||
					l.DurationMS <= 0 || l.Time == "" || l.Method != "GET" {
					t.Errorf("line %+v\nwant status %d route %s region %s (%s) rule %s key %s proto %s tls %v", l, status, route, region, source, rule, key, tr.proto, tr.tls)
				}
				if rule != "" && l.Bucket != "edge-demo" {
					t.Errorf("bucket %q", l.Bucket)
				}
			}
			rid := "t-" + tr.name + "-query"
			resp := do(tr.c, "GET", tr.base+"/r/map-tiles.zip?region=egypt-cairo", "X-Request-Id", rid)
			if got := resp.Header.Get("X-Request-Id"); got != rid {
				t.Fatalf("X-Request-Id %q, want the trusted proxy's %q", got, rid)
			}
			l := logged(t, path, rid)
			check(l, 302, "route", "egypt-cairo", SourceQuery, "assets", "egypt/cairo/map-tiles.zip")
			if l.ClientIP != "127.0.0.1" || l.ClientIPSource != "remote" || l.URI != "/r/map-tiles.zip?region=egypt-cairo" {
				t.Errorf("client %s (%s), uri %q", l.ClientIP, l.ClientIPSource, l.URI)
			}
			if l.Cache != "HIT" && l.Cache != "MISS" {
				t.Errorf("cache %q, want the existence cache's HIT or MISS", l.Cache)
			}

			rid = "t-" + tr.name + "-geoip"
			do(tr.c, "GET", tr.base+"/r/map-tiles.zip", "X-Request-Id", rid, "X-Forwarded-For", ipLondon)
			l = logged(t, path, rid)
			check(l, 302, "route", "uk-london", SourceGeoIP, "assets", "uk/london/map-tiles.zip")
			if l.ClientIP != ipLondon || l.ClientIPSource != "xff" {
				t.Errorf("client %s (%s), want %s (xff)", l.ClientIP, l.ClientIPSource, ipLondon)
			}
			// Explain, as `edgegate explain` asks it, tells the same story.
			ex, err := g.srv.Explain(context.Background(), ExplainRequest{Key: "map-tiles.zip", Peer: "127.0.0.1",
				Headers: []string{"X-Forwarded-For: " + ipLondon}})
			if err != nil {
				t.Fatal(err)
			}
			if ex.Region != l.Region || ex.RegionSource != l.RegionSource || ex.Rule != l.Rule || ex.ObjectKey != l.Key || ex.ClientIP != l.ClientIP {
				t.Errorf("explain says %s (%s) %s %s from %s; the log %s (%s) %s %s from %s",
					ex.Region, ex.RegionSource, ex.Rule, ex.ObjectKey, ex.ClientIP, l.Region, l.RegionSource, l.Rule, l.Key, l.ClientIP)
			}

			img := tr.base + "/img/thumbnail/photos/sample.jpg?format=" + tr.format
			for i, want := range []string{"MISS", "HIT"} {
				rid = "t-" + tr.name + "-img-" + want
				resp := do(tr.c, "GET", img, "X-Request-Id", rid)
				if resp.StatusCode != 200 || resp.Header.Get("X-Cache") != want {
					t.Fatalf("image %d: %d, X-Cache %q", i, resp.StatusCode, resp.Header.Get("X-Cache"))
				}
				l = logged(t, path, rid)
				check(l, 200, "image", "global", SourceDefault, "assets", "global/photos/sample.jpg")
				if l.Cache != want || l.Bytes <= 0 || l.Bytes != resp.ContentLength {
					t.Errorf("image line: cache %q, bytes %d; want %s, %d", l.Cache, l.Bytes, want, resp.ContentLength)
				}
				if want == "MISS" && l.S3MS <= 0 {
					t.Errorf("a miss read its source from S3, but s3_ms is %v", l.S3MS)
				}
			}

			// A 400: no id given, so one is generated and echoed.
			resp = do(tr.c, "GET", tr.base+"/r/map-tiles.zip?region=nowhere")
			rid = resp.Header.Get("X-Request-Id")
			if resp.StatusCode != 400 || len(rid) != 32 {
				t.Fatalf("status %d, X-Request-Id %q: want 400 and a generated id", resp.StatusCode, rid)
			}
			l = logged(t, path, rid)
			check(l, 400, "route", "", "", "", "")
			if l.Bytes <= 0 {
				t.Errorf("the JSON error body's bytes: %d", l.Bytes)
			}
		})
	}
	_, body := get(t, g.admin+"/metrics")
	for _, want := range []string{"edgegate_access_log_lines_total ", "edgegate_access_log_dropped_total 0"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestRequestIDs: a trusted proxy's X-Request-Id or traceparent trace id
// is used; an untrusted client's, or an invalid one, is replaced by a new
// id (and never echoed); on the event loops and on fasthttp alike.
func TestRequestIDs(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, trusted := range []bool{true, false} {
		var path string
		g := startGateway(t, demoRules(t), withGeo(t), withAccessLog(t, &path), func(c *Config) {
			if !trusted {
				c.Geo.TrustedProxies, c.Geo.CDNHeaders = nil, false
			}
		})
		for _, tc := range []struct {
			name   string
			header []string
			want   string // "" = a generated id
		}{
			{"x-request-id", []string{"X-Request-Id", "abc-123"}, "abc-123"},
			{"traceparent", []string{"Traceparent", tp}, "4bf92f3577b34da6a3ce929d0e0e4736"},
			{"x-request-id wins", []string{"X-Request-Id", "abc-124", "Traceparent", tp}, "abc-124"},
			{"invalid id", []string{"X-Request-Id", "bad id\"<x>"}, ""},
			{"too long", []string{"X-Request-Id", strings.Repeat("a", 65)}, ""},
			{"invalid traceparent", []string{"Traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}, ""},
			{"none", nil, ""},
		} {
			for _, path0 := range []string{"/r/map-tiles.zip?region=uk", "/nothing-here"} { // loops, fasthttp
				name := tc.name + map[bool]string{true: " trusted", false: " untrusted"}[trusted] + " " + path0
				t.Run(name, func(t *testing.T) {
					resp, _ := get(t, g.base+path0, tc.header...)
					got := resp.Header.Get("X-Request-Id")
					want := tc.want
					if !trusted {
						want = ""
					}
					if want != "" && got != want {
						t.Fatalf("X-Request-Id %q, want %q", got, want)
					}
					if want == "" && (len(got) != 32 || strings.Contains(strings.Join(tc.header, " "), got)) {
						t.Fatalf("X-Request-Id %q, want a new 32-digit id", got)
					}
					if l := logged(t, path, got); l.RequestID != got {
						t.Fatalf("logged %q", l.RequestID)
					}
				})
			}
		}
	}
}

// TestRequestIDOffByDefault: with the defaults no X-Request-Id is sent and
// no log is written.
func TestRequestIDOffByDefault(t *testing.T) {
	g := startGateway(t, demoRules(t))
	for _, p := range []string{"/r/map-tiles.zip?region=uk", "/nothing-here"} {
		resp, _ := get(t, g.base+p, "X-Request-Id", "abc")
		if got := resp.Header.Get("X-Request-Id"); got != "" {
			t.Fatalf("%s: X-Request-Id %q with access_log.request_id off", p, got)
		}
	}
	if g.srv.alog != nil || g.srv.ids != nil {
		t.Fatal("the access log runs by default")
	}
}

// TestAccessLogSampling: with sample 1000000, errors are all logged and
// successes (all but certainly) none.
func TestAccessLogSampling(t *testing.T) {
	var path string
	g := startGateway(t, demoRules(t), withAccessLog(t, &path), func(c *Config) {
		c.AccessLog.Sample, c.AccessLog.Slow = 1000000, 0
	})
	for range 20 {
		get(t, g.base+"/r/map-tiles.zip?region=uk")
	}
	var last string
	for range 5 {
		resp, _ := get(t, g.base+"/r/map-tiles.zip?region=nowhere")
		last = resp.Header.Get("X-Request-Id")
	}
	logged(t, path, last)
	lines := readLog(t, path)
	if len(lines) != 5 {
		t.Fatalf("%d lines, want the 5 errors", len(lines))
	}
	for _, l := range lines {
		if l.Status != 400 {
			t.Errorf("logged a %d", l.Status)
		}
	}
}

// On the loops, a cached route request allocates nothing with the access
// log on (every request logged, request id generated and echoed) too.
func TestLoopRouteWithAccessLogAllocatesNothing(t *testing.T) {
	var path string
	g := startGateway(t, demoRules(t), withGeo(t), withAccessLog(t, &path))
	h := loopHandler{g.srv}
	fh := g.srv.Handler()
	for _, tc := range []struct{ name, req, loc string }{
		{"query region", "GET /r/map-tiles.zip?region=uk-london HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n", "/uk/london/map-tiles.zip?"},
		{"geoip", "GET /r/map-tiles.zip HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: " + ipCairo + "\r\n\r\n", "/egypt/cairo/map-tiles.zip?"},
		{"trusted id", "GET /r/map-tiles.zip?region=uk-london HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\r\n\r\n", "/uk/london/map-tiles.zip?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r evloop.Request
			raw := []byte(tc.req)
			if _, ok := r.Parse(raw); !ok {
				t.Fatal("request not parsed")
			}
			r.Peer = netip.MustParseAddr("127.0.0.1")
			dst := make([]byte, 0, 4096)
			out := []byte(h.ServeBlocking(dst, &r))
			if !strings.Contains(string(out), tc.loc) || !strings.Contains(string(out), "\r\nX-Request-Id: ") {
				t.Fatalf("answer %q", out)
			}
			var v evloop.Verdict
			before := g.srv.alog.Stats()
			allocs := testing.AllocsPerRun(200, func() {
				r.Parse(raw)
				out, v = h.Serve(dst[:0], &r)
			})
			if v != evloop.Done || !strings.Contains(string(out), tc.loc) {
				t.Fatalf("verdict %v, answer %q", v, out)
			}
			checkAllocs(t, allocs, 0, "logged loop request")
			waitFor(t, 10*time.Second, "the lines written", func() bool {
				st := g.srv.alog.Stats()
				return st.Written+st.Dropped-before.Written-before.Dropped >= 201
			})

			// The fasthttp adapter too (handed-off connections, no loops).
			var req fasthttp.Request
			if err := req.Read(bufio.NewReader(strings.NewReader(tc.req))); err != nil {
				t.Fatal(err)
			}
			var ctx fasthttp.RequestCtx
			ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, nil)
			fh(&ctx)
			allocs = testing.AllocsPerRun(200, func() {
				ctx.Response.Reset()
				fh(&ctx)
			})
			if !strings.Contains(string(ctx.Response.Header.Peek("Location")), tc.loc) {
				t.Fatalf("fasthttp: status %d", ctx.Response.StatusCode())
			}
			checkAllocs(t, allocs, 0, "fasthttp, logged request")
		})
	}
}

// BenchmarkLoopHandlerGeoIPAccessLog is BenchmarkLoopHandlerGeoIP with the
// JSON access log of every request written to a file and X-Request-Id
// generated and echoed: compare the two for the log's cost on the loops.
func BenchmarkLoopHandlerGeoIPAccessLog(b *testing.B) {
	var path string
	rules, err := os.ReadFile("../examples/rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	g := startGatewayTB(b, rules, withGeo(b), withAccessLog(b, &path), func(c *Config) { c.AccessLog.FlushInterval = 100 * time.Millisecond })
	loopGeoIPRequests(b, g.srv)
	b.StopTimer()
	st := g.srv.alog.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(b.N), "dropped/op")
}

// HTTP/2's inline route answers allocate nothing with the access log on
// either (every request logged, its id generated and echoed).
func TestH2RouteWithAccessLogAllocatesNothing(t *testing.T) {
	var path string
	g := startGateway(t, demoRules(t), withGeo(t), withAccessLog(t, &path))
	h := &h2Handler{s: g.srv, h: g.srv.Handler(), name: "edgegate"}
	for _, tc := range []struct {
		name, path string
		hdr        []string
		loc        string
	}{
		{"query region", "/r/map-tiles.zip?region=uk-london", []string{"user-agent", "t"}, "/uk/london/map-tiles.zip?"},
		{"geoip", "/r/map-tiles.zip", []string{"x-forwarded-for", ipCairo}, "/egypt/cairo/map-tiles.zip?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req h2serve.Request
			req.Method, req.Scheme, req.Authority, req.Path = []byte("GET"), []byte("https"), []byte("x"), []byte(tc.path)
			req.Peer = netip.MustParseAddrPort("127.0.0.1:1")
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.AppendHeader(tc.hdr[i], tc.hdr[i+1])
			}
			var resp h2serve.Response
			h.Slow(&req, &resp) // warm-up: existence checks and the URL cache fill
			var ok bool
			allocs := testing.AllocsPerRun(200, func() {
				resp.Reset()
				ok = h.Fast(&req, &resp)
			})
			if !ok || resp.Status != 302 {
				t.Fatalf("Fast %v, status %d", ok, resp.Status)
			}
			checkAllocs(t, allocs, 0, "logged HTTP/2 route request")
		})
	}
}
