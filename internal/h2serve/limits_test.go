package h2serve

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawClient is an HTTP/2 client on the Framer, for hostile sequences.
type rawClient struct {
	t    *testing.T
	c    *tls.Conn
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
}

func dialRaw(t *testing.T, addr string, settings ...http2.Setting) *rawClient {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawClient{t: t, c: c, fr: http2.NewFramer(c, c)}
	rc.enc = hpack.NewEncoder(&rc.hbuf)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	rc.fr.WriteSettings(settings...)
	return rc
}

// block encodes a GET for path, with extra fields.
func (rc *rawClient) block(path string, extra ...hpack.HeaderField) []byte {
	rc.hbuf.Reset()
	for _, f := range append([]hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: "localhost"}, {Name: ":path", Value: path}}, extra...) {
		rc.enc.WriteField(f)
	}
	return append([]byte(nil), rc.hbuf.Bytes()...)
}

func (rc *rawClient) get(id uint32, path string) {
	rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.block(path), EndStream: true, EndHeaders: true})
}

// until reads frames until one satisfies ok (returned) or the connection
// ends (nil), within d.
func (rc *rawClient) until(d time.Duration, ok func(http2.Frame) bool) http2.Frame {
	rc.c.SetReadDeadline(time.Now().Add(d))
	for {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "closed") {
				return nil
			}
			rc.t.Fatalf("read: %v", err)
		}
		if ok(f) {
			return f
		}
	}
}

// goAway waits for GOAWAY and returns its code (the connection must end
// within d).
func (rc *rawClient) goAway(d time.Duration) http2.ErrCode {
	f := rc.until(d, func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok })
	if f == nil {
		rc.t.Fatal("connection ended without GOAWAY")
	}
	return f.(*http2.GoAwayFrame).ErrCode
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		size  int
		gate  bool
		run   func(t *testing.T, rc *rawClient)
		code  http2.ErrCode
		check func(s Stats) bool
	}{
		{name: "rapid reset", gate: true, run: func(t *testing.T, rc *rawClient) {
			for i := range 1000 {
				id := uint32(2*i + 1)
				rc.get(id, "/slow")
				if rc.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
					return
				}
			}
		}, code: http2.ErrCodeEnhanceYourCalm, check: func(s Stats) bool { return s.ResetFloods == 1 && s.Slow <= 200 }},
		{name: "continuation flood", run: func(t *testing.T, rc *rawClient) {
			b := rc.block("/", hpack.HeaderField{Name: "x-a", Value: strings.Repeat("a", 1000)})
			rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b, EndStream: true})
			lit := []byte{0x00, 0x03, 'x', '-', 'b', 0x7f, 0x81, 0x07} // literal x-b: 1000 bytes follow
			lit = append(lit, bytes.Repeat([]byte{'b'}, 1000)...)
			for range 100 {
				if rc.fr.WriteContinuation(1, false, lit) != nil {
					return
				}
			}
		}, code: http2.ErrCodeEnhanceYourCalm, check: func(s Stats) bool { return s.HeadersTooLarge == 1 }},
		{name: "empty continuation flood", run: func(t *testing.T, rc *rawClient) {
			rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: rc.block("/"), EndStream: true})
			for range 10000 {
				if rc.fr.WriteContinuation(1, false, nil) != nil {
					return
				}
			}
		}, code: http2.ErrCodeEnhanceYourCalm, check: func(s Stats) bool { return s.HeadersTooLarge == 1 }},
		{name: "ping flood", run: func(t *testing.T, rc *rawClient) {
			for range 2000 {
				if rc.fr.WritePing(false, [8]byte{}) != nil {
					return
				}
			}
		}, code: http2.ErrCodeEnhanceYourCalm, check: func(s Stats) bool { return s.ControlFloods == 1 }},
		{name: "settings flood", run: func(t *testing.T, rc *rawClient) {
			for range 2000 {
				if rc.fr.WriteSettings() != nil {
					return
				}
			}
		}, code: http2.ErrCodeEnhanceYourCalm, check: func(s Stats) bool { return s.ControlFloods == 1 }},
		{name: "window starvation", cfg: Config{IdleTimeout: time.Second}, size: 200 << 10, run: func(t *testing.T, rc *rawClient) {
			rc.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
			rc.get(1, "/big")
		}, code: http2.ErrCodeFlowControl, check: func(s Stats) bool { return s.FlowControlStalls == 1 }},
		{name: "window starvation with pings", cfg: Config{IdleTimeout: time.Second}, size: 200 << 10, run: func(t *testing.T, rc *rawClient) {
			rc.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
			rc.get(1, "/big")
			for range 100 { // a live client that never opens the window
				time.Sleep(100 * time.Millisecond)
				if rc.fr.WritePing(false, [8]byte{}) != nil {
					return
				}
			}
		}, code: http2.ErrCodeFlowControl, check: func(s Stats) bool { return s.FlowControlStalls == 1 }},
		{name: "slowloris on headers", cfg: Config{ReadTimeout: 500 * time.Millisecond}, run: func(t *testing.T, rc *rawClient) {
			b := rc.block("/")
			rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:1], EndStream: true})
			go func() {
				for i := 1; i < len(b); i++ {
					time.Sleep(200 * time.Millisecond)
					if rc.fr.WriteContinuation(1, false, b[i:i+1]) != nil {
						return
					}
				}
			}()
		}, code: http2.ErrCodeNo, check: func(s Stats) bool { return s.Timeouts == 1 }},
		{name: "slowloris on preface", cfg: Config{HandshakeTimeout: 300 * time.Millisecond}, run: func(t *testing.T, rc *rawClient) {
		}, code: http2.ErrCodeNo, check: func(s Stats) bool { return s.Timeouts == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &testHandler{size: tt.size}
			if tt.gate {
				h.gate = make(chan struct{})
				defer close(h.gate)
			}
			ts := startServer(t, tt.cfg, h)
			rc := dialRaw(t, ts.addr)
			if tt.name == "slowloris on preface" {
				// no preface at all: a fresh connection that says nothing
				c, err := tls.Dial("tcp", ts.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				start := time.Now()
				_, err = io.Copy(io.Discard, c)
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("not closed by the handshake timeout")
				}
				if time.Since(start) > 3*time.Second {
					t.Fatalf("closed after %v", time.Since(start))
				}
				return
			}
			go tt.run(t, rc)
			if got := rc.goAway(10 * time.Second); got != tt.code {
				t.Fatalf("GOAWAY %v, want %v", got, tt.code)
			}
			if s := ts.srv.Stats(); !tt.check(s) {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}
