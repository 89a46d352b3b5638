package gateway

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAccessLogBadRequestsAndRedirects: what fasthttp cannot read (its
// ErrorHandler answers) and the plain listener's 308s to HTTPS are logged
// like every other answer, as nginx logs its 400s and redirects: the
// status, the peer as client (nothing of a bad request is trusted),
// route bad_request or redirect; the 308 with its request id echoed.
func TestAccessLogBadRequestsAndRedirects(t *testing.T) {
	for _, loops := range []int{0, -1} {
		name := map[int]string{0: "event loops", -1: "fasthttp"}[loops]
		t.Run(name, func(t *testing.T) {
			var path string
			g := startGateway(t, demoRules(t), withAccessLog(t, &path), func(c *Config) { c.EventLoops = loops })
			conn, err := net.Dial("tcp", strings.TrimPrefix(g.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(conn, "GET /r/map-tiles.zip HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
			answer, _ := io.ReadAll(conn)
			if !strings.HasPrefix(string(answer), "HTTP/1.1 400 ") {
				t.Fatalf("two Content-Lengths: %q", answer)
			}
			var bad logLine
			waitFor(t, 10*time.Second, "a bad_request line", func() bool {
				for _, l := range readLog(t, path) {
					if l.Route == "bad_request" {
						bad = l
						return true
					}
				}
				return false
			})
			if bad.Status != 400 || bad.ClientIP != "127.0.0.1" || bad.ClientIPSource != "remote" || bad.Bytes == 0 || bad.Method != "" {
				t.Errorf("bad request logged as %+v", bad)
			}
		})
	}

	var path string
	g := startTLSGateway(t, withAccessLog(t, &path))
	req, _ := http.NewRequest(http.MethodGet, g.base+"/r/map-tiles.zip?region=uk", nil)
	req.Host = "localhost"
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	rid := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusPermanentRedirect || rid == "" {
		t.Fatalf("plain HTTP: %d, request id %q; want a 308 with one", resp.StatusCode, rid)
	}
	l := logged(t, path, rid)
	if l.Status != 308 || l.Route != "redirect" || l.URI != "/r/map-tiles.zip?region=uk" || l.TLS {
		t.Errorf("redirect logged as %+v", l)
	}
}
