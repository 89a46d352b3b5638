//go:build linux && !noevloop

package evloop

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// Bytes that cannot start an HTTP request (a TLS ClientHello on the plain
// port, binary garbage) get Config.BadRequest and a close at once, not a
// wait for the read timeout; on a connection that has been answered
// before too.
func TestServerNotHTTPRefusedAtOnce(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 1, ReadTimeout: time.Minute,
		BadRequest: "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad"}, nil)
	for _, tc := range []struct{ name, before, in string }{
		{"TLS ClientHello", "", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"},
		{"binary", "", "\x00\xff\x10garbage"},
		{"method with a control byte", "", "GE\x01T / HTTP/1.1"},
		{"after a request", get("/fast?i=1"), "\x16\x03\x01\x02\x00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialT(t, ts.addr)
			if tc.before != "" {
				c.send(t, tc.before)
				c.expect(t, "GET", "fast 1", false)
			}
			c.send(t, tc.in)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 400 || !resp.Close || string(b) != "bad" {
				t.Errorf("answer %d %q (close %v), want 400 %q and a close", resp.StatusCode, b, resp.Close, "bad")
			}
			c.expectClosed(t)
		})
	}
	if n := ts.Stats().NotHTTP; n != 4 {
		t.Errorf("Stats.NotHTTP %d, want 4", n)
	}
}
