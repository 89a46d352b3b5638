package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// selfSigned returns a server config with an ECDSA P-256 certificate for
// localhost and 127.0.0.1, and a pool that trusts it.
func selfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}}, pool
}

// serveTLSForTest runs the HTTPS transports of g's server on a loopback
// listener with conf until the test ends, HTTP/3 on its UDP port too when
// h3, and returns its base URL.
func serveTLSForTest(t *testing.T, g *testGateway, conf *tls.Config, observe handshakeObserver, h3 bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	alt := ""
	var pc net.PacketConn
	if h3 {
		if pc, err = net.ListenPacket("udp", ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
		alt = altSvc(ln.Addr().String())
	}
	ts := g.srv.newTLSServer(conf, observe, alt)
	var wg sync.WaitGroup
	wg.Go(func() { g.srv.serveTLS(ts, ln) })
	var hs *h3Server
	if h3 {
		hs = g.srv.newH3(ts)
		wg.Go(func() { g.srv.serveH3(hs, pc) })
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if hs != nil {
			hs.shutdown(ctx)
			pc.Close()
		}
		ts.shutdown(ctx)
		wg.Wait()
	})
	return "https://" + ln.Addr().String()
}

// h3Client speaks HTTP/3, trusting pool.
func h3Client(t *testing.T, pool *x509.CertPool) *http.Client {
	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}
	t.Cleanup(func() { tr.Close() })
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// tlsClient speaks HTTP/2 when h2, else HTTP/1.1, trusting pool.
func tlsClient(pool *x509.CertPool, h2 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// The same requests get the same answers on every transport: plain
// HTTP/1.1 (event loops, or fasthttp), HTTPS HTTP/1.1, HTTP/2 and HTTP/3
// (which the HTTPS answers advertise with Alt-Svc).
func TestTransportsAnswerAlike(t *testing.T) {
	g := startGateway(t, demoRules(t), withGeo(t), withImages())
	conf, pool := selfSigned(t)
	base := serveTLSForTest(t, g, conf, nil, true)
	clients := map[string]struct {
		c    *http.Client
		base string
	}{
		"http/1.1":       {noRedirect, g.base},
		"https http/1.1": {tlsClient(pool, false), base},
		"https h2":       {tlsClient(pool, true), base},
		"https h3":       {h3Client(t, pool), base},
	}
	type ask struct {
		method, path string
		header       []string
	}
	asks := []ask{
		{"GET", "/r/map-tiles.zip?region=egypt-cairo", nil},
		{"GET", "/r/map-tiles.zip?region=uk&format=json", nil},
		{"GET", "/r/map-tiles.zip", []string{"X-Forwarded-For", ipCairo, "Accept", "application/json"}},
		{"HEAD", "/r/map-tiles.zip?region=uk", nil},
		{"GET", "/r/map-tiles.zip?region=nowhere", nil},
		{"GET", "/r/", nil},
		{"GET", "/r/a/../../etc/passwd", nil},
		{"POST", "/r/map-tiles.zip", nil},
		{"GET", "/img/thumbnail/photos/sample.jpg", nil},
		{"GET", "/img/thumbnail/photos/sample.jpg", []string{"Accept", "image/webp"}},
		{"HEAD", "/img/medium/photos/sample.jpg", nil},
		{"GET", "/img/nosuchpreset/photos/sample.jpg", nil},
		{"DELETE", "/img/thumbnail/photos/sample.jpg", nil},
		{"GET", "/nothing-here", nil},
	}
	compare := []string{"Content-Type", "Content-Length", "Cache-Control", "Vary", "X-Edge-Rules", "Allow", "Etag", "Server", "Retry-After"}
	for _, a := range asks {
		type answer struct {
			status  int
			headers []string
			loc     string
			body    string
		}
		got := map[string]answer{}
		for name, cl := range clients {
			req, err := http.NewRequest(a.method, cl.base+a.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(a.header); i += 2 {
				req.Header.Set(a.header[i], a.header[i+1])
			}
			// Warm the variant cache, so that every transport sees a hit.
			if strings.HasPrefix(a.path, "/img/") {
				if resp, err := cl.c.Do(req.Clone(t.Context())); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			resp, err := cl.c.Do(req)
			if err != nil {
				t.Fatalf("%s %s %s: %v", name, a.method, a.path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := map[string]int{"https h2": 2, "https h3": 3}[name]; max(want, 1) != resp.ProtoMajor {
				t.Fatalf("%s: answered over %s", name, resp.Proto)
			}
			if alt := resp.Header.Get("Alt-Svc"); strings.HasPrefix(name, "https") != (alt != "") {
				t.Errorf("%s: Alt-Svc %q", name, alt)
			}
			var hs []string
			for _, h := range compare {
				hs = append(hs, h+": "+resp.Header.Get(h))
			}
			loc, _, _ := strings.Cut(resp.Header.Get("Location"), "?")
			b := string(body)
			if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				// A JSON route answer holds a signed URL: compare up to it.
				b, _, _ = strings.Cut(b, "?X-Amz")
			}
			got[name] = answer{resp.StatusCode, hs, loc, b}
		}
		want := got["http/1.1"]
		if want.status == 0 || want.status >= 500 {
			t.Errorf("%s %s: plain HTTP answered %d", a.method, a.path, want.status)
		}
		for name, ans := range got {
			if ans.status != want.status || ans.loc != want.loc || strings.Join(ans.headers, "\n") != strings.Join(want.headers, "\n") || ans.body != want.body {
				t.Errorf("%s %s:\n%s: %d %q\n%v\nbody %.200q\nhttp/1.1: %d %q\n%v\nbody %.200q", a.method, a.path,
					name, ans.status, ans.loc, ans.headers, ans.body, want.status, want.loc, want.headers, want.body)
			}
		}
	}
}
