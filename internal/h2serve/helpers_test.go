package h2serve

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// testHandler answers /slow... on Slow (after waiting on gate when set),
// /big with size bytes, everything else inline.
type testHandler struct {
	gate    chan struct{}
	started chan struct{} // when set, Slow says it started
	size    int
}

func (h *testHandler) Fast(req *Request, resp *Response) bool {
	p := string(req.Path)
	if strings.HasPrefix(p, "/slow") {
		return false
	}
	resp.Status = 200
	resp.AddHeader("content-type", "text/plain")
	resp.AddHeaderBytes([]byte("x-path"), req.Path)
	if strings.HasPrefix(p, "/big") {
		resp.Body = make([]byte, h.size)
		for i := range resp.Body {
			resp.Body[i] = byte('a' + i%26)
		}
		return true
	}
	resp.Body = []byte("hello\n")
	return true
}

func (h *testHandler) Slow(req *Request, resp *Response) {
	if h.started != nil {
		h.started <- struct{}{}
	}
	if h.gate != nil {
		<-h.gate
	}
	resp.Status = 200
	resp.AddHeader("content-type", "text/plain")
	resp.Body = []byte("slow\n")
}

func testCert(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

type testServer struct {
	srv  *Server
	addr string
	ln   net.Listener
	wg   sync.WaitGroup
}

// startServer serves h on a loopback TLS listener (ALPN h2) until the test
// ends.
func startServer(t testing.TB, cfg Config, h Handler) *testServer {
	t.Helper()
	srv, err := New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{testCert(t)}, NextProtos: []string{"h2"}}
	ts := &testServer{srv: srv, addr: ln.Addr().String(), ln: ln}
	ts.wg.Add(1)
	go func() {
		defer ts.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ts.wg.Add(1)
			go func() {
				defer ts.wg.Done()
				tc := tls.Server(c, conf)
				tc.SetDeadline(time.Now().Add(5 * time.Second))
				if err := tc.Handshake(); err != nil {
					c.Close()
					return
				}
				tc.SetDeadline(time.Time{})
				srv.ServeConn(tc)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		ts.wg.Wait()
	})
	return ts
}
