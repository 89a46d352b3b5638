package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgegate/edgegate/loadtest/internal/scenario"
	"github.com/edgegate/edgegate/loadtest/internal/stats"
)

// countingServer starts a server for h that counts the TCP connections it
// accepts.
func countingServer(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &n
}

func newRaw(t *testing.T, base string, conns int, timeout time.Duration) *RawClient {
	t.Helper()
	return newRawConfig(t, base, RawConfig{Conns: conns, Timeout: timeout})
}

func newRawConfig(t *testing.T, base string, cfg RawConfig) *RawClient {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewRawClient(u, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func get(path string, kv ...string) scenario.Target {
	t := scenario.Target{Name: "n", Method: http.MethodGet, Path: path, Header: http.Header{}, Location: "EG/Cairo"}
	for i := 0; i+1 < len(kv); i += 2 {
		t.Header.Set(kv[i], kv[i+1])
	}
	return t
}

// answers serves the cases both clients must agree on; it checks the
// request line and headers it was sent and answers 400 when they are wrong.
func answers() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if addr := r.Context().Value(http.LocalAddrContextKey).(net.Addr).String(); r.Proto != "HTTP/1.1" || r.Host != addr {
			http.Error(w, "bad proto or host "+r.Proto+" "+r.Host, http.StatusBadRequest)
			return
		}
		if ua := r.Header.Get("User-Agent"); ua != "Go-http-client/1.1" {
			http.Error(w, "user agent "+ua, http.StatusBadRequest)
			return
		}
		if r.Header.Get("Accept-Encoding") != "" || r.ContentLength > 0 {
			http.Error(w, "unexpected Accept-Encoding or body", http.StatusBadRequest)
			return
		}
		switch r.URL.EscapedPath() {
		case "/base/ok":
			if r.URL.RawQuery != "region=uk-london&format=json" || r.Header.Get("X-Forwarded-For") != "81.2.69.160" ||
				r.Header.Get("Accept") != "image/avif" || len(r.Header.Values("X-Multi")) != 2 {
				http.Error(w, fmt.Sprintf("query %q headers %v", r.URL.RawQuery, r.Header), http.StatusBadRequest)
				return
			}
			w.Header().Set("X-Cache", "HIT")
			_, _ = io.WriteString(w, "hello")
		case "/base/chunked":
			w.Header().Set("X-Cache", "MISS")
			for i := range 5 {
				_, _ = io.WriteString(w, strings.Repeat("x", 1000*(i+1)))
				w.(http.Flusher).Flush() // no Content-Length: chunked
			}
		case "/base/redirect":
			w.Header().Set("Location", "http://s3.invalid/b/k")
			w.WriteHeader(http.StatusFound)
		case "/base/len":
			w.Header().Set("Content-Length", "50")
			_, _ = io.WriteString(w, strings.Repeat("z", 50))
		case "/base/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/base/escaped%2Fkey":
			_, _ = io.WriteString(w, r.URL.EscapedPath())
		default:
			http.NotFound(w, r)
		}
	})
}

// The raw client and Send give the same results for the same answers.
func TestRawClientMatchesSend(t *testing.T) {
	srv, conns := countingServer(t, answers())
	base, _ := url.Parse(srv.URL + "/base")
	raw := newRaw(t, srv.URL+"/base", 4, 5*time.Second)
	nc := NewClient(4, 5*time.Second)
	defer nc.CloseIdleConnections()

	ok := get("/ok?region=uk-london&format=json", "X-Forwarded-For", "81.2.69.160", "Accept", "image/avif")
	ok.Header.Add("X-Multi", "a")
	ok.Header.Add("X-Multi", "b")
	head := get("/len")
	head.Method = http.MethodHead
	tests := []struct {
		name   string
		target scenario.Target
		want   stats.Result
	}{
		{"200 with X-Cache and headers checked", ok, stats.Result{Status: 200, Bytes: 5, XCache: "HIT"}},
		{"chunked", get("/chunked"), stats.Result{Status: 200, Bytes: 15000, XCache: "MISS"}},
		{"302 not followed", get("/redirect"), stats.Result{Status: 302, Bytes: 0}},
		{"204", get("/empty"), stats.Result{Status: 204}},
		{"404 body", get("/missing"), stats.Result{Status: 404, Bytes: 19}},
		{"escaped path kept", get("/escaped%2Fkey"), stats.Result{Status: 200, Bytes: int64(len("/base/escaped%2Fkey"))}},
		{"Content-Length", get("/len"), stats.Result{Status: 200, Bytes: 50}},
		{"HEAD has no body", head, stats.Result{Status: 200, Bytes: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, client := range []string{"raw", "net"} {
				intended := time.Now().Add(-20 * time.Millisecond)
				var got stats.Result
				if client == "raw" {
					got = raw.Send(context.Background(), tt.target, intended)
				} else {
					got = Send(context.Background(), nc, base, tt.target, intended)
				}
				want := tt.want
				want.Name, want.Location = "n", "EG/Cairo"
				lat, svc := got.Latency, got.Service
				got.Latency, got.Service = 0, 0
				if got != want {
					t.Errorf("%s client: %+v, want %+v", client, got, want)
				}
				if lat < 20*time.Millisecond || svc <= 0 || svc > lat-20*time.Millisecond+time.Millisecond {
					t.Errorf("%s client: latency %v, service %v: latency must run from the intended time", client, lat, svc)
				}
			}
		})
	}
	// Sequential requests reuse the raw client's one live connection (and
	// net/http's one).
	if n := conns.Load(); n != 2 {
		t.Errorf("server saw %d connections, want 2 (one per client)", n)
	}
}

// Concurrent sends share the fixed pool: never more connections than
// --conns, and the wait for a free one counts in the latency.
func TestRawClientPoolBoundsConnections(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); cur > p && !peak.CompareAndSwap(p, cur); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond)
	}))
	c := newRaw(t, srv.URL, 2, 5*time.Second)
	const n = 10
	results := make([]stats.Result, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() { results[i] = c.Send(context.Background(), get("/"), start) })
	}
	wg.Wait()
	var worst time.Duration
	for _, r := range results {
		if r.Status != 200 || r.Cause != "" {
			t.Fatalf("result %+v", r)
		}
		worst = max(worst, r.Latency)
	}
	if conns.Load() != 2 || peak.Load() != 2 {
		t.Errorf("%d connections, %d requests at once; want 2 and 2", conns.Load(), peak.Load())
	}
	// 10 requests of 20ms over 2 connections: the last waits 4 turns.
	if worst < 100*time.Millisecond {
		t.Errorf("worst latency %v: the wait for a free connection is not counted", worst)
	}
}

// A burst finding no free connection dials at most rawGrowBurst new ones
// at once (then rawGrowRate a second) and otherwise waits for busy ones;
// an Eager pool (closed loop) dials one for each.
func TestRawClientPoolGrowth(t *testing.T) {
	const burst = 150
	for _, eager := range []bool{false, true} {
		t.Run(fmt.Sprintf("eager=%v", eager), func(t *testing.T) {
			// Requests are held until enough of the burst has arrived that
			// no connection comes free too early, however slowly the
			// goroutines are scheduled: all of it when eager; when not,
			// the first rawGrowBurst, then each is held 30 ms more.
			want := int64(rawGrowBurst)
			if eager {
				want = burst
			}
			var arrived atomic.Int64
			enough := make(chan struct{})
			srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if arrived.Add(1) == want {
					close(enough)
				}
				select {
				case <-enough:
				case <-time.After(3 * time.Second):
				}
				if !eager {
					time.Sleep(30 * time.Millisecond)
				}
			}))
			c := newRawConfig(t, srv.URL, RawConfig{Conns: 1000, Timeout: 5 * time.Second, Eager: eager})
			var wg sync.WaitGroup
			var failed atomic.Int64
			start := time.Now()
			for range burst {
				wg.Go(func() {
					if r := c.Send(context.Background(), get("/"), start); r.Status != 200 {
						failed.Add(1)
					}
				})
			}
			wg.Wait()
			n, el := conns.Load(), time.Since(start)
			if failed.Load() != 0 {
				t.Fatalf("%d requests failed", failed.Load())
			}
			if eager && n != burst {
				t.Errorf("eager: %d connections for %d concurrent requests", n, burst)
			}
			// The bucket refills while the burst runs (about 100 ms).
			if lim := int64(rawGrowBurst + rawGrowRate*el.Seconds() + 1); !eager && (n < rawGrowBurst || n > lim) {
				t.Errorf("%d connections for %d concurrent requests in %v, want %d to %d", n, burst, el, rawGrowBurst, lim)
			}
		})
	}
}

// A server that closes after each answer: every request dials anew and
// succeeds. Close-delimited bodies (no length, no chunking) are read to
// the end.
func TestRawClientRedialsAfterConnectionClose(t *testing.T) {
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "bye")
	}))
	c := newRaw(t, srv.URL, 1, 5*time.Second)
	for range 5 {
		if r := c.Send(context.Background(), get("/"), time.Now()); r.Status != 200 || r.Bytes != 3 || r.Cause != "" {
			t.Fatalf("result %+v", r)
		}
	}
	if n := conns.Load(); n != 5 {
		t.Errorf("%d connections for 5 requests answered with Connection: close", n)
	}

	// An HTTP/1.0-style answer delimited by closing the connection.
	c = newRaw(t, answerOnceServer(t, "HTTP/1.1 200 OK\r\nX-Cache: HIT\r\n\r\n"+strings.Repeat("y", 10000)), 1, 5*time.Second)
	for range 3 {
		if r := c.Send(context.Background(), get("/"), time.Now()); r.Status != 200 || r.Bytes != 10000 || r.XCache != "HIT" || r.Cause != "" {
			t.Fatalf("close-delimited answer: %+v", r)
		}
	}
}

// A keep-alive connection the server closed while it was idle is not an
// error: the request goes out again on a new one.
func TestRawClientRetriesStaleConnection(t *testing.T) {
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	c := newRaw(t, srv.URL, 1, 5*time.Second)
	for i := range 3 {
		if r := c.Send(context.Background(), get("/"), time.Now()); r.Status != 200 || r.Cause != "" {
			t.Fatalf("request %d: %+v", i, r)
		}
		srv.CloseClientConnections()
		time.Sleep(10 * time.Millisecond) // let the FIN arrive
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

// answerOnceServer answers every connection's first request with the raw
// bytes of answer and closes it; it returns the server's base URL.
func answerOnceServer(t *testing.T, answer string) string {
	ln := listen(t)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
					return
				}
				_, _ = io.WriteString(conn, answer)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// hangingServer accepts connections and reads requests but never answers.
func hangingServer(t *testing.T) string {
	ln := listen(t)
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range open {
			_ = c.Close()
		}
	})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, conn)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, conn) }()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestRawClientTimeout(t *testing.T) {
	c := newRaw(t, hangingServer(t), 1, 150*time.Millisecond)
	var wg sync.WaitGroup
	results := make([]stats.Result, 2)
	start := time.Now()
	for i := range results { // the second waits for the pool's one connection, then times out
		wg.Go(func() { results[i] = c.Send(context.Background(), get("/"), start) })
	}
	wg.Wait()
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("took %v with a 150ms timeout", el)
	}
	for _, r := range results {
		if r.Cause != CauseTimeout || r.Status != 0 || r.Latency < 150*time.Millisecond || r.Latency > time.Second {
			t.Errorf("result %+v, want a timeout after about 150ms", r)
		}
	}
	// The pool is whole again: the next request dials and times out too.
	if r := c.Send(context.Background(), get("/"), time.Now()); r.Cause != CauseTimeout {
		t.Errorf("after timeouts: %+v", r)
	}
}

func TestRawClientCancel(t *testing.T) {
	c := newRaw(t, hangingServer(t), 2, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	r := c.Send(ctx, get("/"), start)
	if r.Cause != CauseCanceled || time.Since(start) > 5*time.Second {
		t.Fatalf("result %+v after %v, want canceled at 100ms", r, time.Since(start))
	}
	if r := c.Send(ctx, get("/"), time.Now()); r.Cause != CauseCanceled {
		t.Errorf("send on a cancelled context: %+v", r)
	}
}

func TestRawClientRefused(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	_ = ln.Close()
	c := newRaw(t, "http://"+addr, 2, 5*time.Second)
	for range 2 {
		if r := c.Send(context.Background(), get("/"), time.Now()); r.Cause != CauseRefused || r.Status != 0 || r.Latency <= 0 {
			t.Fatalf("result %+v, want %q", r, CauseRefused)
		}
	}
}

// An answer cut short: its status is kept and the cause is the body read.
func TestRawClientShortBody(t *testing.T) {
	c := newRaw(t, answerOnceServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-Cache: MISS\r\n\r\n0123456789"), 1, 5*time.Second)
	for range 2 {
		r := c.Send(context.Background(), get("/"), time.Now())
		if r.Status != 200 || r.Cause != CauseBodyRead || r.Bytes != 10 || r.XCache != "MISS" {
			t.Fatalf("result %+v", r)
		}
	}
}

// Requests that cannot be written are refused before any byte is sent.
func TestRawClientBadTarget(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := newRaw(t, srv.URL, 1, 5*time.Second)
	for _, tg := range []scenario.Target{
		get("/x", "X-Forwarded-For", "1.2.3.4\r\nX-Evil: 1"),
		get("/a b"),
		get("/x\r\n"),
		{Name: "n", Method: "GE T", Path: "/"},
	} {
		if r := c.Send(context.Background(), tg, time.Now()); r.Cause != CauseBadTarget {
			t.Errorf("%+v: result %+v", tg, r)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("server got %d requests", hits.Load())
	}
}

func TestNewRawClientChecks(t *testing.T) {
	for _, s := range []string{"https://127.0.0.1:1", "http://"} {
		u, _ := url.Parse(s)
		if _, err := NewRawClient(u, RawConfig{Conns: 1, Timeout: time.Second}); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
	u, _ := url.Parse("http://127.0.0.1:1")
	if _, err := NewRawClient(u, RawConfig{Timeout: time.Second}); err == nil {
		t.Error("0 connections accepted")
	}
	u, _ = url.Parse("http://user:pw@example.com")
	c, err := NewRawClient(u, RawConfig{Conns: 1, Timeout: time.Second})
	if err != nil || c.addr != "example.com:80" || c.host != "example.com" || c.auth != "Authorization: Basic dXNlcjpwdw==\r\n" {
		t.Errorf("client %+v, %v", c, err)
	}
}
