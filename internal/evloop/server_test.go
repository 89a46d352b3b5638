//go:build linux && !noevloop

package evloop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"
)

// testHandler answers:
//
//	/fast   on the loop: "fast <i>"
//	/peer   on the loop: the peer's address
//	/big    on the loop: bigBody
//	/pad    on the loop: "pad <i>" and 8 KiB of padding
//	/block  via ServeBlocking, after blockDelay: "block <i>"
//	/hang   via ServeBlocking, once hang is closed: "hang"
//
// and hands off anything else. <i> is the query argument i. Answers say
// "Connection: close" when the request asked for it.
type testHandler struct {
	blockDelay time.Duration
	hang       chan struct{} // /hang waits for it to close
	hanging    chan struct{} // /hang signals here (buffered) when it starts
}

var bigBody = func() []byte {
	b := make([]byte, 4<<20)
	for i := range b {
		b[i] = byte(i*7 + i>>11)
	}
	return b
}()

func answer(dst []byte, r *Request, body []byte) []byte {
	dst = append(dst, "HTTP/1.1 200 OK\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n"...)
	if !r.KeepAlive {
		dst = append(dst, "Connection: close\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	if !r.IsHead() {
		dst = append(dst, body...)
	}
	return dst
}

func withArg(prefix string, r *Request) []byte {
	var buf [32]byte
	i, _ := r.Arg(buf[:0], "i")
	return append([]byte(prefix), i...)
}

func (h *testHandler) Serve(dst []byte, r *Request) ([]byte, Verdict) {
	switch string(r.Path) {
	case "/fast":
		return answer(dst, r, withArg("fast ", r)), Done
	case "/peer":
		return answer(dst, r, []byte(r.Peer.String())), Done
	case "/big":
		return answer(dst, r, bigBody), Done
	case "/pad":
		return answer(dst, r, append(withArg("pad ", r), bigBody[:8<<10]...)), Done
	case "/block", "/hang":
		return dst, Block
	}
	return dst, Handoff
}

func (h *testHandler) ServeBlocking(dst []byte, r *Request) []byte {
	switch string(r.Path) {
	case "/hang":
		h.hanging <- struct{}{}
		<-h.hang
		return answer(dst, r, []byte("hang"))
	default:
		time.Sleep(h.blockDelay)
		return answer(dst, r, withArg("block ", r))
	}
}

// The full server behind the loops echoes what it got.
func echoHandler(ctx *fasthttp.RequestCtx) {
	fmt.Fprintf(ctx, "slow %s %s %s", ctx.Method(), ctx.RequestURI(), ctx.PostBody())
}

func slow(method, uri, body string) string { return "slow " + method + " " + uri + " " + body }

type testServer struct {
	*Server
	h        *testHandler
	addr     string
	serveErr chan error // Serve's result, once
}

// startServer serves h on a new 127.0.0.1 listener (or on ln), with a
// fasthttp echo server on the handoffs; both are shut down at cleanup.
func startServer(t *testing.T, h *testHandler, cfg Config, ln net.Listener) *testServer {
	t.Helper()
	if h == nil {
		h = &testHandler{blockDelay: 5 * time.Millisecond}
	}
	s, err := New(h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ln == nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.Shutdown(context.Background())
			t.Fatal(err)
		}
	}
	ts := &testServer{Server: s, h: h, addr: ln.Addr().String(), serveErr: make(chan error, 1)}
	go func() { ts.serveErr <- s.Serve(ln) }()
	fs := &fasthttp.Server{Handler: echoHandler, ReadTimeout: 10 * time.Second}
	fsDone := make(chan struct{})
	go func() { fs.Serve(s.Handoffs()); close(fsDone) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("cleanup: Shutdown: %v", err)
		}
		if err := fs.ShutdownWithContext(ctx); err != nil {
			t.Errorf("cleanup: fasthttp Shutdown: %v", err)
		}
		select {
		case <-fsDone:
		case <-ctx.Done():
			t.Error("cleanup: fasthttp Serve did not return")
		}
	})
	return ts
}

// waitStopped checks that Shutdown (its result on done) returns nil and
// that Serve then returns nil, each within 5 s.
func (ts *testServer) waitStopped(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if err := ts.waitServe(t, 5*time.Second); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

// waitServe returns Serve's result, failing the test if Serve does not
// return within d.
func (ts *testServer) waitServe(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-ts.serveErr:
		ts.serveErr <- err // for later callers
		return err
	case <-time.After(d):
		t.Fatal("Serve did not return")
		return nil
	}
}

func shutdown(s *Server, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Shutdown(ctx)
}

type tclient struct {
	*net.TCPConn
	br *bufio.Reader
}

const clientDeadline = 10 * time.Second

func dialT(t testing.TB, addr string) *tclient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(clientDeadline))
	return &tclient{TCPConn: c.(*net.TCPConn), br: bufio.NewReader(c)}
}

// dialSmallWindow dials with a 16 KiB receive buffer from the start, so
// the server's writes soon fill the connection.
func dialSmallWindow(t testing.TB, addr string) *tclient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 16<<10) })
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(clientDeadline))
	return &tclient{TCPConn: c.(*net.TCPConn), br: bufio.NewReader(c)}
}

func (c *tclient) send(t testing.TB, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readAnswer reads one answer to a request with method.
func (c *tclient) readAnswer(method string) (body string, closes bool, err error) {
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return "", false, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", false, err
	}
	if resp.StatusCode != 200 {
		return string(b), resp.Close, fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), resp.Close, nil
}

func (c *tclient) expect(t testing.TB, method, want string, wantClose bool) {
	t.Helper()
	body, closes, err := c.readAnswer(method)
	if err != nil {
		t.Fatalf("answer: %v (want %q)", err, want)
	}
	if body != want || closes != wantClose {
		t.Fatalf("answer %q (Connection: close %v), want %q (%v)", body, closes, want, wantClose)
	}
}

// closedErr reads: the server must have closed the connection with
// nothing more to say.
func (c *tclient) closedErr() error {
	b, err := c.br.ReadByte()
	switch {
	case err == nil:
		rest, _ := c.br.Peek(c.br.Buffered())
		return fmt.Errorf("unexpected data %q", append([]byte{b}, rest...))
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return nil
	default:
		return fmt.Errorf("not closed: %w", err)
	}
}

func (c *tclient) expectClosed(t testing.TB) {
	t.Helper()
	if err := c.closedErr(); err != nil {
		t.Fatal(err)
	}
}

func get(path string, extra ...string) string {
	return head(append([]string{"GET " + path + " HTTP/1.1", "Host: x"}, extra...)...)
}

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.defaults()
	if c.Loops <= 0 || c.ReadTimeout != 10*time.Second || c.WriteTimeout != 10*time.Second ||
		c.IdleTimeout != time.Minute || c.MaxHeaderBytes != 8<<10 || c.MaxOutputBytes != 64<<10 {
		t.Errorf("defaults: %+v", c)
	}
	c = Config{Loops: 3, ReadTimeout: time.Second, WriteTimeout: 2 * time.Second, IdleTimeout: 3 * time.Second, MaxHeaderBytes: 100, MaxOutputBytes: 200, BadRequest: "x"}
	want := c
	c.defaults()
	if c != want {
		t.Errorf("defaults changed set values: %+v", c)
	}
}

// Many requests in one write: the loop answers /fast itself, /block on a
// goroutine, and hands off the connection at the first request it does not
// take; every answer arrives whole and in order.
func TestServerPipelining(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 2}, nil)
	type exp struct{ method, body string }
	var reqs strings.Builder
	var want []exp
	blocks := 0
	for i := range 30 {
		switch {
		case i%3 == 1:
			reqs.WriteString(get(fmt.Sprintf("/block?i=%d", i)))
			want = append(want, exp{"GET", fmt.Sprintf("block %d", i)})
			blocks++
		case i == 5:
			reqs.WriteString(head(fmt.Sprintf("HEAD /fast?i=%d HTTP/1.1", i), "Host: x"))
			want = append(want, exp{"HEAD", ""})
		case i == 9:
			reqs.WriteString(get("/peer"))
			want = append(want, exp{"GET", "127.0.0.1"})
		default:
			reqs.WriteString(get(fmt.Sprintf("/fast?i=%d", i)))
			want = append(want, exp{"GET", fmt.Sprintf("fast %d", i)})
		}
	}
	// The handoff, and requests after it, which the full server answers.
	reqs.WriteString(get("/other?i=30"))
	want = append(want, exp{"GET", slow("GET", "/other?i=30", "")})
	reqs.WriteString(head("POST /fast?i=31 HTTP/1.1", "Host: x", "Content-Length: 3") + "abc")
	want = append(want, exp{"POST", slow("POST", "/fast?i=31", "abc")})
	reqs.WriteString(get("/block?i=32"))
	want = append(want, exp{"GET", slow("GET", "/block?i=32", "")})

	c := dialT(t, ts.addr)
	c.send(t, reqs.String())
	for i, w := range want {
		body, closes, err := c.readAnswer(w.method)
		if err != nil || body != w.body || closes {
			t.Fatalf("answer %d: %q, close %v, %v; want %q", i, body, closes, err, w.body)
		}
	}
	if st := ts.Stats(); st.Handoffs != 1 || st.Blocked != uint64(blocks) {
		t.Errorf("Stats() = %+v, want 1 handoff, %d blocked", st, blocks)
	}
}

// More pipelined input than one read takes, written while the answers are
// read.
func TestServerPipeliningLarge(t *testing.T) {
	ts := startServer(t, &testHandler{blockDelay: time.Millisecond}, Config{Loops: 1}, nil)
	const n = 3000
	var reqs bytes.Buffer
	for i := range n {
		if i%50 == 7 {
			reqs.WriteString(get(fmt.Sprintf("/block?i=%d", i)))
		} else {
			reqs.WriteString(get(fmt.Sprintf("/fast?i=%d", i), "X-Pad: "+strings.Repeat("p", i%37)))
		}
	}
	if reqs.Len() < 128<<10 {
		t.Fatalf("only %d bytes of requests", reqs.Len())
	}
	c := dialT(t, ts.addr)
	werr := make(chan error, 1)
	go func() { _, err := c.Write(reqs.Bytes()); werr <- err }()
	for i := range n {
		want := fmt.Sprintf("fast %d", i)
		if i%50 == 7 {
			want = fmt.Sprintf("block %d", i)
		}
		c.expect(t, "GET", want, false)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if st := ts.Stats(); st.Handoffs != 0 {
		t.Errorf("Stats() = %+v, want no handoff", st)
	}
}

// A request that arrives one byte at a time.
func TestServerOneByteAtATime(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 1}, nil)
	c := dialT(t, ts.addr)
	c.SetNoDelay(true)
	trickle := func(s string) {
		t.Helper()
		for i := range len(s) {
			c.send(t, s[i:i+1])
			time.Sleep(500 * time.Microsecond)
		}
	}
	trickle(get("/fast?i=1"))
	c.expect(t, "GET", "fast 1", false)
	trickle(get("/block?i=2"))
	c.expect(t, "GET", "block 2", false)
	trickle(get("/fast?i=3") + get("/block?i=4"))
	c.expect(t, "GET", "fast 3", false)
	c.expect(t, "GET", "block 4", false)
	// A body: handed off when the head is whole, the rest goes straight to
	// the full server.
	trickle(head("POST /echo HTTP/1.1", "Host: x", "Content-Length: 5") + "hello")
	c.expect(t, "POST", slow("POST", "/echo", "hello"), false)
	if st := ts.Stats(); st.Handoffs != 1 {
		t.Errorf("Stats() = %+v, want 1 handoff", st)
	}
}

// Connection: close: the answer says so, and then the connection ends even
// if more requests were pipelined behind.
func TestServerConnectionClose(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 2}, nil)
	for _, conn := range []string{"close", "keep-alive, Close"} {
		for _, path := range []string{"/fast", "/block"} {
			t.Run(conn+" "+path, func(t *testing.T) {
				c := dialT(t, ts.addr)
				c.send(t, get(path+"?i=1")+get(path+"?i=2", "Connection: "+conn)+get(path+"?i=3"))
				c.expect(t, "GET", path[1:]+" 1", false)
				c.expect(t, "GET", path[1:]+" 2", true)
				c.expectClosed(t)
			})
		}
	}
}

// A client that shuts its side down after its requests still gets every
// answer, then the end of the connection.
func TestServerHalfClose(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 2}, nil)
	for _, paths := range [][]string{{"/fast"}, {"/block"}, {"/fast", "/block", "/fast"}, {"/block", "/block"}} {
		t.Run(strings.Join(paths, ","), func(t *testing.T) {
			c := dialT(t, ts.addr)
			var reqs string
			for i, p := range paths {
				reqs += get(fmt.Sprintf("%s?i=%d", p, i))
			}
			c.send(t, reqs)
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			for i, p := range paths {
				c.expect(t, "GET", fmt.Sprintf("%s %d", p[1:], i), false)
			}
			c.expectClosed(t)
		})
	}
	// Half-closed in the middle of a request: nothing to answer, closed.
	c := dialT(t, ts.addr)
	c.send(t, "GET /fast HTTP/1.1\r\nHo")
	c.CloseWrite()
	c.expectClosed(t)
}

// readSlowly reads n bytes in small pieces with pauses, so the server's
// writes fill the socket and it must wait for EPOLLOUT.
func readSlowly(r io.Reader, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, 16<<10)
	for i := 0; len(out) < n; i++ {
		m, err := r.Read(buf[:min(len(buf), n-len(out))])
		out = append(out, buf[:m]...)
		if err != nil {
			return out, err
		}
		if i%4 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	return out, nil
}

func TestServerBigAnswerSlowReader(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 1}, nil)
	c := dialSmallWindow(t, ts.addr)
	readBig := func(method string) {
		t.Helper()
		resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if resp.ContentLength != int64(len(bigBody)) {
			t.Fatalf("Content-Length %d", resp.ContentLength)
		}
		if method == "HEAD" {
			return
		}
		b, err := readSlowly(resp.Body, len(bigBody))
		if err != nil && err != io.EOF {
			t.Fatalf("after %d bytes: %v", len(b), err)
		}
		if !bytes.Equal(b, bigBody) {
			i := 0
			for i < min(len(b), len(bigBody)) && b[i] == bigBody[i] {
				i++
			}
			t.Fatalf("body differs at %d (got %d bytes)", i, len(b))
		}
	}
	// Two big answers and a small one pipelined, all read slowly.
	c.send(t, get("/big")+get("/big")+head("HEAD /big HTTP/1.1")+get("/fast?i=1"))
	readBig("GET")
	readBig("GET")
	readBig("HEAD")
	c.expect(t, "GET", "fast 1", false)
	// The connection reads again once its output is out.
	c.send(t, get("/block?i=2"))
	c.expect(t, "GET", "block 2", false)
	// A handoff behind a big answer still unwritten: the full server's
	// answer comes after all of it.
	c.send(t, get("/big")+get("/other?i=3"))
	readBig("GET")
	c.expect(t, "GET", slow("GET", "/other?i=3", ""), false)
	if st := ts.Stats(); st.Handoffs != 1 {
		t.Errorf("Stats() = %+v, want 1 handoff", st)
	}
}

// A request with a body goes to the full server, which gets the exact body;
// the connection then stays with it.
func TestServerPostHandoff(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 2}, nil)
	body := make([]byte, 100<<10)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range body {
		body[i] = byte('a' + rng.IntN(26))
	}
	req := head("POST /upload?i=1 HTTP/1.1", "Host: x", "Content-Length: "+strconv.Itoa(len(body))) + string(body)
	c := dialT(t, ts.addr)
	// The head and part of the body in the write after a loop request, the
	// rest later.
	c.send(t, get("/fast?i=0")+req[:1000])
	c.expect(t, "GET", "fast 0", false)
	time.Sleep(20 * time.Millisecond)
	c.send(t, req[1000:])
	c.expect(t, "POST", slow("POST", "/upload?i=1", string(body)), false)
	c.send(t, get("/fast?i=2"))
	c.expect(t, "GET", slow("GET", "/fast?i=2", ""), false)
	if st := ts.Stats(); st.Handoffs != 1 || st.Blocked != 0 {
		t.Errorf("Stats() = %+v, want 1 handoff", st)
	}

	// Other requests the loop does not take are handed off too, each on
	// its own connection.
	for i, req := range []string{
		head("GET /x HTTP/1.0", "Host: x"),
		head("GET /fast?i=9 HTTP/1.1", "Host: x", "Transfer-Encoding: chunked") + "0\r\n\r\n",
		head("GET http://x/fast?i=9 HTTP/1.1", "Host: x"),
		head("GET /fast?i=9 HTTP/1.1", "Host: x", "X-Folded: a", " b"),
	} {
		c := dialT(t, ts.addr)
		c.send(t, req)
		body, _, err := c.readAnswer("GET")
		if err != nil || !strings.HasPrefix(body, "slow GET ") {
			t.Errorf("%q: %q, %v; want the full server's answer", req, body, err)
		}
		if st := ts.Stats(); st.Handoffs != uint64(2+i) {
			t.Errorf("Stats() = %+v, want %d handoffs", st, 2+i)
		}
	}
}

// A head longer than MaxHeaderBytes goes to the full server.
func TestServerLongHeadHandedOff(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 1, MaxHeaderBytes: 256}, nil)
	c := dialT(t, ts.addr)
	c.send(t, get("/fast?i=1"))
	c.expect(t, "GET", "fast 1", false)
	c.send(t, get("/fast?i=2", "X-Long: "+strings.Repeat("l", 300)))
	c.expect(t, "GET", slow("GET", "/fast?i=2", ""), false)
	if st := ts.Stats(); st.Handoffs != 1 {
		t.Errorf("Stats() = %+v, want 1 handoff", st)
	}
}

// A listener whose connections the loops cannot own (not TCP) hands each
// one off at once.
func TestServerNonTCPListener(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, nil, Config{Loops: 1}, ln)
	c, err := net.DialTimeout("unix", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(clientDeadline))
	io.WriteString(c, get("/fast?i=1"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != slow("GET", "/fast?i=1", "") {
		t.Errorf("answer %q", b)
	}
	if st := ts.Stats(); st.Handoffs != 1 {
		t.Errorf("Stats() = %+v, want 1 handoff", st)
	}
	if err := shutdown(ts.Server, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := ts.waitServe(t, 5*time.Second); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

// The loop sweeps for timeouts about once a second, so a timeout takes
// effect a little over a second late at worst when the loop is quiet;
// sweepWait allows for that on a loaded machine.
const sweepWait = 2500 * time.Millisecond

func TestServerTimeouts(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, nil, Config{Loops: 1, IdleTimeout: 200 * time.Millisecond}, nil)
		used := dialT(t, ts.addr)
		unused := dialT(t, ts.addr)
		start := time.Now()
		used.send(t, get("/fast?i=1"))
		used.expect(t, "GET", "fast 1", false)
		for _, c := range []*tclient{used, unused} {
			c.SetReadDeadline(start.Add(200*time.Millisecond + sweepWait))
			c.expectClosed(t)
		}
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Errorf("closed after %v, before the idle timeout", d)
		}
	})
	t.Run("busy connection is not idle", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, nil, Config{Loops: 1, IdleTimeout: 300 * time.Millisecond}, nil)
		c := dialT(t, ts.addr)
		for i := range 15 {
			c.send(t, get(fmt.Sprintf("/fast?i=%d", i)))
			c.expect(t, "GET", fmt.Sprintf("fast %d", i), false)
			time.Sleep(100 * time.Millisecond)
		}
	})
	t.Run("write", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, nil, Config{Loops: 1, WriteTimeout: 200 * time.Millisecond}, nil)
		c := dialSmallWindow(t, ts.addr)
		// More than the socket buffers hold, and the client takes nothing.
		c.send(t, strings.Repeat(get("/big"), 4))
		time.Sleep(200*time.Millisecond + sweepWait)
		c.SetReadBuffer(4 << 20)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c.br)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("after %d bytes: %v", len(b), err)
		}
		if len(b) >= 4*len(bigBody) {
			t.Errorf("got all %d bytes, want the connection closed before", len(b))
		}
	})
	t.Run("read", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, nil, Config{Loops: 1, ReadTimeout: 200 * time.Millisecond, IdleTimeout: time.Minute}, nil)
		c := dialT(t, ts.addr)
		start := time.Now()
		c.send(t, "GET /fast?i=1 HTTP/1.1\r\nHo")
		c.SetReadDeadline(start.Add(200*time.Millisecond + sweepWait))
		c.expectClosed(t)
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Errorf("closed after %v, before the read timeout", d)
		}
		// A keep-alive connection between requests is not slow: only the
		// idle timeout (a minute) applies to it.
		c2 := dialT(t, ts.addr)
		c2.send(t, get("/fast?i=2"))
		c2.expect(t, "GET", "fast 2", false)
		time.Sleep(200*time.Millisecond + sweepWait)
		c2.send(t, get("/fast?i=3"))
		c2.expect(t, "GET", "fast 3", false)
	})
}

// Many connections, each with many requests, mixing loop and blocking
// answers.
func TestServerConcurrency(t *testing.T) {
	ts := startServer(t, &testHandler{blockDelay: time.Millisecond}, Config{Loops: 2}, nil)
	const conns, perConn = 100, 50
	var blocked atomic.Uint64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for ci := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				c, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
				if err != nil {
					return err
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(15 * time.Second))
				tc := &tclient{TCPConn: c.(*net.TCPConn), br: bufio.NewReader(c)}
				rng := rand.New(rand.NewPCG(uint64(ci), 5))
				for i := 0; i < perConn; {
					batch := min(1+rng.IntN(5), perConn-i)
					var reqs strings.Builder
					var want []string
					for j := i; j < i+batch; j++ {
						id := fmt.Sprintf("%d.%d", ci, j)
						if rng.IntN(2) == 0 {
							reqs.WriteString(get("/block?i=" + id))
							want = append(want, "block "+id)
							blocked.Add(1)
						} else {
							reqs.WriteString(get("/fast?i=" + id))
							want = append(want, "fast "+id)
						}
					}
					if _, err := io.WriteString(c, reqs.String()); err != nil {
						return err
					}
					for _, w := range want {
						body, closes, err := tc.readAnswer("GET")
						if err != nil {
							return fmt.Errorf("conn %d: %v (want %q)", ci, err, w)
						}
						if body != w || closes {
							return fmt.Errorf("conn %d: %q close=%v, want %q", ci, body, closes, w)
						}
					}
					i += batch
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if st := ts.Stats(); st.Blocked != blocked.Load() || st.Handoffs != 0 {
		t.Errorf("Stats() = %+v, want %d blocked, no handoff", st, blocked.Load())
	}
}

func TestServerShutdownClosesIdle(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 2}, nil)
	var cs []*tclient
	for i := range 4 {
		c := dialT(t, ts.addr)
		c.send(t, get(fmt.Sprintf("/fast?i=%d", i)))
		c.expect(t, "GET", fmt.Sprintf("fast %d", i), false)
		cs = append(cs, c)
	}
	cs = append(cs, dialT(t, ts.addr)) // never sent anything
	waitStats(t, ts.Server, "the loops to hold all 5 connections", func(st Stats) bool { return st.Open == 5 })
	start := time.Now()
	if err := shutdown(ts.Server, 5*time.Second); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v with only idle connections", d)
	}
	for _, c := range cs {
		c.SetReadDeadline(time.Now().Add(time.Second))
		c.expectClosed(t)
	}
	if err := ts.waitServe(t, 5*time.Second); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	// No longer accepting.
	if c, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(make([]byte, 1))
		c.Close()
		if n != 0 || err == nil || errors.Is(err, syscall.ETIMEDOUT) || isTimeout(err) {
			t.Errorf("a connection after Shutdown: %d, %v", n, err)
		}
	}
	// Serve after Shutdown returns nil at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ts.Serve(ln) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after Shutdown = %v", err)
		}
	case <-time.After(5 * time.Second):
		ln.Close()
		t.Fatal("Serve after Shutdown did not return")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A request under way when Shutdown is called is answered (with
// Connection: close) when it is whole, and Shutdown waits for that.
func TestServerShutdownFinishesHalfSentRequest(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 2}, nil)
	c := dialT(t, ts.addr)
	c.send(t, "GET /fast?i=7 HTTP/1.1\r\nHost: x\r\n")
	time.Sleep(50 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- shutdown(ts.Server, 5*time.Second) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a request under way", err)
	case <-time.After(300 * time.Millisecond):
	}
	c.send(t, "\r\n")
	c.expect(t, "GET", "fast 7", true)
	c.expectClosed(t)
	ts.waitStopped(t, done)
}

// A blocking answer in flight when Shutdown is called is delivered, then
// the connection is closed.
func TestServerShutdownFinishesBlocking(t *testing.T) {
	ts := startServer(t, &testHandler{blockDelay: 300 * time.Millisecond}, Config{Loops: 2}, nil)
	c := dialT(t, ts.addr)
	c.send(t, get("/block?i=1"))
	waitStats(t, ts.Server, "the request to go off-loop", func(st Stats) bool { return st.Blocked == 1 })
	done := make(chan error, 1)
	go func() { done <- shutdown(ts.Server, 5*time.Second) }()
	c.expect(t, "GET", "block 1", false)
	c.expectClosed(t)
	ts.waitStopped(t, done)
}

// A ServeBlocking that hangs: Shutdown gives up when its context ends,
// closes the connections, and returns the context's error; once the
// handler returns, the loops finish.
func TestServerShutdownContextExpires(t *testing.T) {
	h := &testHandler{hang: make(chan struct{}), hanging: make(chan struct{}, 1)}
	ts := startServer(t, h, Config{Loops: 2}, nil)
	c := dialT(t, ts.addr)
	c.send(t, get("/hang"))
	select {
	case <-h.hanging:
	case <-time.After(5 * time.Second):
		t.Fatal("/hang never reached ServeBlocking")
	}
	released := false
	defer func() {
		if !released {
			close(h.hang)
		}
	}()
	start := time.Now()
	err := shutdown(ts.Server, 200*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want %v", err, context.DeadlineExceeded)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("Shutdown returned after %v", d)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	c.expectClosed(t) // forced closed, unanswered
	if err := ts.waitServe(t, 5*time.Second); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	close(h.hang)
	released = true
	if err := shutdown(ts.Server, 5*time.Second); err != nil {
		t.Errorf("Shutdown after the handler returned = %v, want nil", err)
	}
}

// After the loops have stopped, their descriptors are closed and their
// numbers reused; a later Shutdown must not write to them.
func TestServerShutdownTwiceTouchesNoReusedDescriptor(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 2}, nil)
	c := dialT(t, ts.addr)
	c.send(t, get("/fast?i=1"))
	c.expect(t, "GET", "fast 1", false)
	if err := shutdown(ts.Server, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Take the lowest free descriptors, the loops' old ones among them.
	var pipes [][2]int
	defer func() {
		for _, p := range pipes {
			unix.Close(p[0])
			unix.Close(p[1])
		}
	}()
	for range 32 {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		pipes = append(pipes, p)
	}
	if err := shutdown(ts.Server, 5*time.Second); err != nil {
		t.Fatalf("second Shutdown = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ts.Shutdown(ctx) // either result; it must not touch other descriptors
	for _, p := range pipes {
		var b [16]byte
		if n, _ := unix.Read(p[0], b[:]); n > 0 {
			t.Errorf("Shutdown wrote %q to descriptor %d, no longer the loop's", b[:n], p[1])
		}
	}
}

// Connections keep arriving while Shutdown runs: every one the server
// accepted is closed, none is left hanging.
func TestServerShutdownWhileConnecting(t *testing.T) {
	for range 12 {
		ts := startServer(t, nil, Config{Loops: 2}, nil)
		stop := make(chan struct{})
		var mu sync.Mutex
		var conns []net.Conn
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					c, err := net.DialTimeout("tcp", ts.addr, time.Second)
					if err != nil {
						continue // refused once the listener is closed
					}
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
				}
			}()
		}
		// Shut down once connections are flowing.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			mu.Lock()
			n := len(conns)
			mu.Unlock()
			if n >= 20 {
				break
			}
		}
		err := shutdown(ts.Server, 5*time.Second)
		time.Sleep(5 * time.Millisecond)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
		if len(conns) == 0 {
			t.Fatal("no connection made")
		}
		// Each connection must be closed. A byte written tells a socket the
		// server holds but forgot (it takes the byte and stays silent) from
		// one the kernel dropped from the closing listener's queue without
		// a word (it answers the byte with a reset).
		for _, c := range conns {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.Write([]byte{'x'})
			_, err := c.Read(make([]byte, 1))
			c.Close()
			if isTimeout(err) {
				t.Fatalf("a connection made during Shutdown was never closed (of %d)", len(conns))
			}
		}
	}
}

// waitStats polls the loops' counters until cond holds; after 5 s the
// test fails, saying what it waited for.
func waitStats(t *testing.T, s *Server, what string, cond func(Stats) bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(s.Stats()); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5s for %s; stats %+v", what, s.Stats())
		}
	}
}

// Stats.Open counts the connections the loops hold: up on accept, down
// on close and on a hand-off.
func TestStatsOpen(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 2}, nil)
	a, b := dialT(t, ts.addr), dialT(t, ts.addr)
	a.send(t, get("/fast?i=1"))
	a.expect(t, "GET", "fast 1", false)
	waitStats(t, ts.Server, "2 open", func(st Stats) bool { return st.Open == 2 })
	b.Close()
	waitStats(t, ts.Server, "1 open after a close", func(st Stats) bool { return st.Open == 1 })
	a.send(t, head("POST /upload?i=2 HTTP/1.1", "Host: x", "Content-Length: 1")+"x") // a body: handed off
	waitStats(t, ts.Server, "0 open after a hand-off", func(st Stats) bool { return st.Open == 0 && st.Handoffs == 1 })
}
