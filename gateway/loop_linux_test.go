//go:build linux && !noevloop

package gateway

// Tests that need the event loops running; a build with the noevloop tag
// (what systems other than Linux get) has fasthttp serve everything, and
// leaves them out.

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rawExchange sends one raw request on a fresh connection and reads the
// answer (HEAD answers carry no body).
func rawExchange(t *testing.T, base, req string) (*http.Response, []byte) {
	t.Helper()
	u, _ := url.Parse(base)
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	method := req[:strings.IndexByte(req, ' ')]
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// The event loops and fasthttp answer every /r/ request the same way: same
// status, same headers that matter, same body, byte for byte.
func TestRouteSameOnLoopsAndFasthttp(t *testing.T) {
	rules := demoRules(t)
	loops := startGateway(t, rules, withGeo(t))
	plain := startGateway(t, rules, withGeo(t), func(c *Config) { c.EventLoops = -1 })
	const host = "Host: edge.test\r\n"
	for _, tc := range []struct{ name, req string }{
		{"query region", "GET /r/map-tiles.zip?region=egypt-cairo HTTP/1.1\r\n" + host + "\r\n"},
		{"region in any case, escaped", "GET /r/map-tiles.zip?region=UK%2dLondon HTTP/1.1\r\n" + host + "\r\n"},
		{"geoip from X-Forwarded-For", "GET /r/map-tiles.zip HTTP/1.1\r\n" + host + "x-forwarded-for: " + ipLondon + "\r\n\r\n"},
		{"CDN country header", "GET /r/map-tiles.zip HTTP/1.1\r\n" + host + "CloudFront-Viewer-Country: EG\r\n\r\n"},
		{"json by format", "GET /r/map-tiles.zip?region=uk&format=json HTTP/1.1\r\n" + host + "\r\n"},
		{"json by Accept", "GET /r/map-tiles.zip?region=uk HTTP/1.1\r\n" + host + "Accept: application/json\r\n\r\n"},
		{"HEAD", "HEAD /r/map-tiles.zip?region=uk HTTP/1.1\r\n" + host + "\r\n"},
		{"connection close", "GET /r/map-tiles.zip?region=global HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n"},
		{"unknown region", "GET /r/map-tiles.zip?region=atlantis HTTP/1.1\r\n" + host + "\r\n"},
		{"empty region", "GET /r/map-tiles.zip?region= HTTP/1.1\r\n" + host + "\r\n"},
		{"missing object", "GET /r/no-such-thing.bin?region=uk HTTP/1.1\r\n" + host + "\r\n"},
		{"traversal", "GET /r/a/../../etc/passwd HTTP/1.1\r\n" + host + "\r\n"},
		{"bad escape", "GET /r/a%zz HTTP/1.1\r\n" + host + "\r\n"},
		{"method", "DELETE /r/map-tiles.zip HTTP/1.1\r\n" + host + "\r\n"},
		{"not found path", "GET /nope HTTP/1.1\r\n" + host + "\r\n"},
		{"HTTP/1.0 goes to fasthttp", "GET /r/map-tiles.zip?region=uk HTTP/1.0\r\n\r\n"},
		{"HTTP/1.1 without Host", "GET /r/map-tiles.zip?region=uk HTTP/1.1\r\n\r\n"},
		{"head of 4.5 KiB", headOf(4608)},
		{"head at the 8 KiB limit", headOf(8 << 10)},
		{"head over the 8 KiB limit", headOf(8<<10 + 1)},
		{"absolute-form target", "GET http://edge.test/r/map-tiles.zip?region=uk HTTP/1.1\r\n" + host + "\r\n"},
		{"absolute-form target, https", "GET https://edge.test/r/map-tiles.zip?region=uk HTTP/1.1\r\n" + host + "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a, b *http.Response
			var ab, bb []byte
			// A signing window may turn between the two answers, and
			// max-age (whole seconds left) may tick down: ask again then.
			for range 3 {
				a, ab = rawExchange(t, loops.base, tc.req)
				b, bb = rawExchange(t, plain.base, tc.req)
				if a.Header.Get("Location") == b.Header.Get("Location") &&
					a.Header.Get("Cache-Control") == b.Header.Get("Cache-Control") {
					break
				}
			}
			if a.StatusCode != b.StatusCode {
				t.Fatalf("status: loops %d, fasthttp %d (%s | %s)", a.StatusCode, b.StatusCode, ab, bb)
			}
			if a.StatusCode >= 500 {
				t.Fatalf("status %d: %s", a.StatusCode, ab)
			}
			if string(ab) != string(bb) {
				t.Errorf("body: loops %q, fasthttp %q", ab, bb)
			}
			hs := []string{"Location", "Cache-Control", "Vary", "Content-Type",
				"X-Edge-Rules", "Allow", "Retry-After", "Server", "Connection"}
			if a.Request.Method == http.MethodHead {
				// fasthttp leaves Content-Length out of a bodiless HEAD
				// answer; the loops send what GET would: 0 for a redirect.
				if got := a.Header.Get("Content-Length"); got != "0" {
					t.Errorf("HEAD Content-Length %q, want 0", got)
				}
			} else {
				hs = append(hs, "Content-Length")
			}
			for _, h := range hs {
				if a.Header.Get(h) != b.Header.Get(h) {
					t.Errorf("%s: loops %q, fasthttp %q", h, a.Header.Get(h), b.Header.Get(h))
				}
			}
			if a.Header.Get("Date") == "" {
				t.Error("no Date header")
			}
			if a.Close != b.Close {
				t.Errorf("closes the connection: loops %v, fasthttp %v", a.Close, b.Close)
			}
		})
	}
}

// Absolute-form targets are accepted (RFC 9112, section 3.2.2) and routed
// on their path, on both transports.
func TestAbsoluteFormRouted(t *testing.T) {
	rules := demoRules(t)
	loops := startGateway(t, rules, withGeo(t))
	plain := startGateway(t, rules, withGeo(t), func(c *Config) { c.EventLoops = -1 })
	for _, target := range []string{"http://edge.test/r/map-tiles.zip?region=uk", "HTTPS://edge.test:443/r/map-tiles.zip?region=uk"} {
		req := "GET " + target + " HTTP/1.1\r\nHost: edge.test\r\n\r\n"
		for _, g := range []*testGateway{loops, plain} {
			resp, body := rawExchange(t, g.base, req)
			if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/map-tiles.zip?") {
				t.Errorf("%s: %d %q (%s)", target, resp.StatusCode, resp.Header.Get("Location"), body)
			}
		}
	}
}

// Bytes that cannot start an HTTP request get a JSON 400 and a close at
// once on the loops, not a wait for read_timeout.
func TestLoopNotHTTPRefusedAtOnce(t *testing.T) {
	g := startGateway(t, demoRules(t), withGeo(t))
	for _, in := range []string{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "\x00\x01binary"} {
		u, _ := url.Parse(g.base)
		c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second)) // read_timeout is 10s
		if _, err := io.WriteString(c, in); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !resp.Close || resp.Header.Get("Content-Type") != "application/json" ||
			!strings.Contains(string(body), `"status":400`) {
			t.Errorf("%q: %d %q %q (close %v)", in, resp.StatusCode, resp.Header.Get("Content-Type"), body, resp.Close)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("%q: after the answer: %v, want EOF", in, err)
		}
	}
}

// headOf returns a /r/ request whose head is n bytes long.
func headOf(n int) string {
	const start, end = "GET /r/map-tiles.zip?region=uk HTTP/1.1\r\nHost: edge.test\r\nX-Pad: ", "\r\n\r\n"
	return start + strings.Repeat("p", n-len(start)-len(end)) + end
}

// Pipelined requests on one keep-alive connection are answered in order,
// including one that needs an S3 existence check off-loop, and one that
// sends the connection to fasthttp (an image) after the others.
func TestLoopPipelinedKeepAlive(t *testing.T) {
	g := startGateway(t, demoRules(t), withGeo(t))
	blocked := g.srv.loopStats().Blocked
	u, _ := url.Parse(g.base)
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	reqs := []struct{ path, want string }{
		{"/r/map-tiles.zip?region=uk-london", "/uk/london/map-tiles.zip?"},
		{"/r/map-tiles.zip?region=egypt-alexandria", "/egypt/alexandria/map-tiles.zip?"},
		{"/r/map-tiles.zip?region=uk-london", "/uk/london/map-tiles.zip?"},
		{"/img/thumbnail/photos/sample.jpg", ""},
		{"/r/map-tiles.zip?region=global", "/global/map-tiles.zip?"},
	}
	var all strings.Builder
	for _, r := range reqs {
		all.WriteString("GET " + r.path + " HTTP/1.1\r\nHost: edge.test\r\n\r\n")
	}
	if _, err := io.WriteString(c, all.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for _, r := range reqs {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", r.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if r.want == "" {
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") {
				t.Fatalf("%s: %d %s", r.path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			continue
		}
		if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), r.want) {
			t.Fatalf("%s: %d Location %q (%s)", r.path, resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}
	if got := g.srv.loopStats().Blocked; got <= blocked {
		t.Errorf("no request was answered off-loop (blocked %d -> %d): the first existence checks must ask S3", blocked, got)
	}
	if g.srv.loopStats().Handoffs == 0 {
		t.Error("the image request did not hand the connection to fasthttp")
	}
	resp, body := get(t, g.admin+"/metrics")
	for _, name := range []string{"edgegate_loop_handoffs_total", "edgegate_loop_blocked_total", "edgegate_loop_connections"} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), name+" ") {
			t.Errorf("metrics lack %s", name)
		}
	}
}
