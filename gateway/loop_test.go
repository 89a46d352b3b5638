package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/evloop"
	"github.com/edgegate/edgegate/internal/testenv"
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a, b *http.Response
			var ab, bb []byte
			for range 2 { // a signing window may turn between the two
				a, ab = rawExchange(t, loops.base, tc.req)
				b, bb = rawExchange(t, plain.base, tc.req)
				if a.Header.Get("Location") == b.Header.Get("Location") {
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
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "edgegate_loop_handoffs_total") {
		t.Errorf("metrics lack edgegate_loop_handoffs_total")
	}
}

// On the loops too, a cached route request allocates nothing, from
// parsing to the last byte of the answer.
func TestLoopRouteAllocatesNothing(t *testing.T) {
	g := startGateway(t, demoRules(t), withGeo(t))
	h := loopHandler{g.srv}
	for _, tc := range []struct{ name, req, loc string }{
		{"query region", "GET /r/map-tiles.zip?region=uk-london HTTP/1.1\r\nHost: x\r\n\r\n", "/uk/london/map-tiles.zip?"},
		{"geoip", "GET /r/map-tiles.zip HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: " + ipCairo + "\r\n\r\n", "/egypt/cairo/map-tiles.zip?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r evloop.Request
			raw := []byte(tc.req)
			if _, ok := r.Parse(raw); !ok {
				t.Fatal("request not parsed")
			}
			r.Peer = netip.MustParseAddr("127.0.0.1")
			dst := make([]byte, 0, 4096)
			out := []byte(h.ServeBlocking(dst, &r)) // warm-up: existence checks and the URL cache fill
			if !strings.HasPrefix(string(out), "HTTP/1.1 302 Found\r\n") || !strings.Contains(string(out), tc.loc) {
				t.Fatalf("answer %q", out)
			}
			var v evloop.Verdict
			allocs := testing.AllocsPerRun(200, func() {
				r.Parse(raw)
				out, v = h.Serve(dst[:0], &r)
			})
			if v != evloop.Done || !strings.Contains(string(out), tc.loc) {
				t.Fatalf("verdict %v, answer %q", v, out)
			}
			want := 0.0
			if raceEnabled {
				want = 2 // sync.Pool drops items on purpose under -race
			}
			if allocs > want {
				t.Fatalf("%v allocations per cached loop request, want ≤ %v (race detector: %v)", allocs, want, raceEnabled)
			}
		})
	}
}

// When a cached existence answer expires, requests keep getting it while
// one background HEAD refreshes it (stale-while-revalidate); the refreshed
// answer then takes over. Here the object is deleted after the first
// answer: the next request past the TTL still gets the stale prefix, and
// a later one the fallback.
func TestExistenceStaleWhileRevalidate(t *testing.T) {
	g := startGateway(t, demoRules(t), func(c *Config) { c.Exists.TTL = 300 * time.Millisecond })
	rel := putObject(t, "swr.bin", []byte("x"), "application/octet-stream")
	// Also under egypt/, the first prefix for region egypt.
	client := demo.Client(testenv.S3(t))
	if _, err := client.PutObject(context.Background(), putInput(demo.Bucket, "egypt/"+rel, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	url := g.base + "/r/" + rel + "?region=egypt"
	if a := answer(t, url); a.Key != "egypt/"+rel {
		t.Fatalf("first answer: key %q", a.Key)
	}
	if _, err := client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(demo.Bucket), Key: aws.String("egypt/" + rel)}); err != nil {
		t.Fatal(err)
	}
	heads := testutilCounter(t, g.srv.metrics.s3Heads)
	time.Sleep(400 * time.Millisecond) // past the TTL, within TTL more of staleness
	if a := answer(t, url); a.Key != "egypt/"+rel {
		t.Fatalf("just past the TTL: key %q, want the stale egypt/ answer", a.Key)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := answer(t, url)
		if a.Key == "global/"+rel {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refresh never landed: key %q", a.Key)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := testutilCounter(t, g.srv.metrics.s3Heads) - heads; n < 1 {
		t.Errorf("no HEAD refreshed the entry")
	}
}
