//go:build linux && !noevloop

package evloop

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// testCert is a self-signed ECDSA certificate for 127.0.0.1.
func testCert(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// startTLS serves TLS on a new listener: handshakes on goroutines, then
// ServeTLS; the TLS hand-offs go to a fasthttp echo server that says
// whether it saw TLS. It returns the address.
func startTLS(t *testing.T, ts *testServer) string {
	t.Helper()
	conf := &tls.Config{Certificates: []tls.Certificate{testCert(t)}, NextProtos: []string{"http/1.1"}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				tc := NewTLSConn(c, conf)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := tc.HandshakeContext(ctx); err != nil {
					c.Close()
					return
				}
				ts.ServeTLS(tc)
			})
		}
	}()
	fs := &fasthttp.Server{ReadTimeout: 10 * time.Second, Handler: func(ctx *fasthttp.RequestCtx) {
		echoHandler(ctx)
		fmt.Fprintf(ctx, " tls=%v", ctx.IsTLS())
	}}
	done := make(chan struct{})
	go func() { fs.Serve(ts.TLSHandoffs()); close(done) }()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		fs.Shutdown()
		<-done
	})
	return ln.Addr().String()
}

type tlsClient struct {
	*tls.Conn
	br *bufio.Reader
}

func dialTLS(t testing.TB, addr string, wrap func(net.Conn) net.Conn) *tlsClient {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	raw.SetDeadline(time.Now().Add(clientDeadline))
	nc := raw
	if wrap != nil {
		nc = wrap(raw)
	}
	c := tls.Client(nc, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	return &tlsClient{Conn: c, br: bufio.NewReader(c)}
}

func (c *tlsClient) send(t testing.TB, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func (c *tlsClient) expect(t testing.TB, method, want string) {
	t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("answer: %v (want %q)", err, want)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != want {
		t.Fatalf("answer %q, %v; want %q", b, err, want)
	}
}

// Pipelined requests over TLS: answered on the loop, off it (Block), and
// by the full server after a hand-off, which still sees TLS, in order.
func TestTLSPipelining(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 2}, nil)
	addr := startTLS(t, ts)
	var reqs strings.Builder
	type exp struct{ method, body string }
	var want []exp
	for i := range 20 {
		switch {
		case i%4 == 1:
			reqs.WriteString(get(fmt.Sprintf("/block?i=%d", i)))
			want = append(want, exp{"GET", fmt.Sprintf("block %d", i)})
		case i == 6:
			reqs.WriteString(head(fmt.Sprintf("HEAD /fast?i=%d HTTP/1.1", i), "Host: x"))
			want = append(want, exp{"HEAD", ""})
		case i == 8:
			reqs.WriteString(get("/peer"))
			want = append(want, exp{"GET", "127.0.0.1"})
		default:
			reqs.WriteString(get(fmt.Sprintf("/fast?i=%d", i)))
			want = append(want, exp{"GET", fmt.Sprintf("fast %d", i)})
		}
	}
	reqs.WriteString(get("/other?i=20"))
	want = append(want, exp{"GET", slow("GET", "/other?i=20", "") + " tls=true"})
	reqs.WriteString(head("POST /fast?i=21 HTTP/1.1", "Host: x", "Content-Length: 3") + "abc")
	want = append(want, exp{"POST", slow("POST", "/fast?i=21", "abc") + " tls=true"})
	c := dialTLS(t, addr, nil)
	c.send(t, reqs.String())
	for _, w := range want {
		c.expect(t, w.method, w.body)
	}
	if st := ts.Stats(); st.Handoffs != 1 || st.Blocked != 5 {
		t.Errorf("Stats() = %+v, want 1 handoff, 5 blocked", st)
	}
}

// A keep-alive client, request after request, and a connection whose
// first request is not the loop's: the full server gets it over TLS.
func TestTLSKeepAliveAndFirstHandoff(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 1}, nil)
	addr := startTLS(t, ts)
	c := dialTLS(t, addr, nil)
	for i := range 50 {
		c.send(t, get(fmt.Sprintf("/fast?i=%d", i)))
		c.expect(t, "GET", fmt.Sprintf("fast %d", i))
	}
	c.send(t, get("/block?i=50"))
	c.expect(t, "GET", "block 50")
	c.send(t, get("/fast?i=51"))
	c.expect(t, "GET", "fast 51")
	o := dialTLS(t, addr, nil)
	o.send(t, get("/other"))
	o.expect(t, "GET", slow("GET", "/other", "")+" tls=true")
	o.send(t, get("/fast?i=1"))
	o.expect(t, "GET", slow("GET", "/fast?i=1", "")+" tls=true")
	if st := ts.Stats(); st.Open != 1 || st.Handoffs != 1 {
		t.Errorf("Stats() = %+v, want 1 open on the loop, 1 handoff", st)
	}
}

// coalescer holds the client's writes after its first (the ClientHello)
// and sends them with the next one: the client's Finished and its first
// request arrive together, so the handshake reads the request too.
type coalescer struct {
	net.Conn
	n    int
	held []byte
}

func (c *coalescer) Write(p []byte) (int, error) {
	c.n++
	if c.n == 2 {
		c.held = append(c.held, p...)
		return len(p), nil
	}
	if len(c.held) > 0 {
		_, err := c.Conn.Write(append(c.held, p...))
		c.held = nil
		return len(p), err
	}
	return c.Conn.Write(p)
}

func TestTLSRequestWithFinished(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 1}, nil)
	addr := startTLS(t, ts)
	c := dialTLS(t, addr, func(nc net.Conn) net.Conn { return &coalescer{Conn: nc} })
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.send(t, get("/fast?i=7"))
	c.expect(t, "GET", "fast 7")
}

// A 4 MiB answer to a client that reads slowly, twice, then a small one:
// the records go out as the client takes them.
func TestTLSBigAnswerSlowReader(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 1}, nil)
	addr := startTLS(t, ts)
	raw := dialSmallWindow(t, addr)
	tc := tls.Client(raw.TCPConn, &tls.Config{InsecureSkipVerify: true})
	c := &tlsClient{Conn: tc, br: bufio.NewReader(tc)}
	c.send(t, get("/big")+get("/big")+get("/fast?i=3"))
	for range 2 {
		resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := readSlowly(resp.Body, len(bigBody))
		if (err != nil && err != io.EOF) || string(b) != string(bigBody) {
			t.Fatalf("big answer: %d bytes, %v", len(b), err)
		}
	}
	c.expect(t, "GET", "fast 3")
	if st := ts.Stats(); st.OutPeak < 64<<10 {
		t.Errorf("Stats() = %+v: the records did not wait for the client", st)
	}
}

// Bytes that are not a TLS record after the handshake: crypto/tls's alert,
// then the connection closes; the loop goes on serving others.
func TestTLSBadRecord(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 1}, nil)
	addr := startTLS(t, ts)
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(clientDeadline))
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	// An application-data record whose tag cannot verify.
	bad := append([]byte{23, 3, 3, 0, 40}, make([]byte, 40)...)
	if _, err := raw.Write(bad); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(raw)
	// TLS 1.3 encrypts the alert: one record (application data on the
	// wire), then the end.
	if err != nil || len(b) == 0 || b[0] != 23 || int(b[3])<<8|int(b[4]) != len(b)-5 {
		t.Fatalf("after a bad record: %x, %v; want one record (the alert), then EOF", b, err)
	}
	waitStats(t, ts.Server, "the connection closed", func(st Stats) bool { return st.Open == 0 })
	o := dialTLS(t, addr, nil)
	o.send(t, get("/fast?i=1"))
	o.expect(t, "GET", "fast 1")
}

// Shutdown closes idle TLS connections and waits for one in flight.
func TestTLSShutdown(t *testing.T) {
	h := &testHandler{hang: make(chan struct{}), hanging: make(chan struct{}, 1)}
	ts := startServer(t, h, Config{Loops: 1}, nil)
	addr := startTLS(t, ts)
	idle := dialTLS(t, addr, nil)
	idle.send(t, get("/fast?i=1"))
	idle.expect(t, "GET", "fast 1")
	busy := dialTLS(t, addr, nil)
	busy.send(t, get("/hang"))
	<-h.hanging
	done := make(chan error, 1)
	go func() { done <- shutdown(ts.Server, 10*time.Second) }()
	if _, err := idle.br.ReadByte(); err == nil {
		t.Fatal("the idle connection got data at shutdown")
	}
	close(h.hang)
	busy.expect(t, "GET", "hang")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
