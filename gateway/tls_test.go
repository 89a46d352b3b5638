package gateway

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/edgegate/edgegate/certs"
	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
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
			maxAge  int // Cache-Control's, compared within a second (it counts down)
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
			maxAge := -1
			for _, h := range compare {
				v := resp.Header.Get(h)
				if m := maxAgeRE.FindStringSubmatch(v); h == "Cache-Control" && m != nil {
					maxAge, _ = strconv.Atoi(m[1])
					v = maxAgeRE.ReplaceAllString(v, "max-age=N")
				}
				hs = append(hs, h+": "+v)
			}
			loc, _, _ := strings.Cut(resp.Header.Get("Location"), "?")
			b := string(body)
			if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				// A JSON route answer holds a signed URL: compare up to it.
				b, _, _ = strings.Cut(b, "?X-Amz")
			}
			got[name] = answer{resp.StatusCode, hs, loc, b, maxAge}
		}
		want := got["http/1.1"]
		if want.status == 0 || want.status >= 500 {
			t.Errorf("%s %s: plain HTTP answered %d", a.method, a.path, want.status)
		}
		for name, ans := range got {
			if ans.status != want.status || ans.loc != want.loc || strings.Join(ans.headers, "\n") != strings.Join(want.headers, "\n") ||
				ans.body != want.body || ans.maxAge-want.maxAge > 1 || want.maxAge-ans.maxAge > 1 {
				t.Errorf("%s %s:\n%s: %d %q\n%v\nbody %.200q\nhttp/1.1: %d %q\n%v\nbody %.200q", a.method, a.path,
					name, ans.status, ans.loc, ans.headers, ans.body, want.status, want.loc, want.headers, want.body)
			}
		}
	}
}

// tlsGateway is a gateway serving HTTPS from certificate files, started
// through ServeOn with listen_tls bound to a port picked first.
type tlsGateway struct {
	*testGateway
	https string // https://127.0.0.1:port
	pool  *x509.CertPool
}

// maxAgeRE finds Cache-Control's max-age, which counts down to the end of
// the presign window: two requests a second boundary apart differ by one.
var maxAgeRE = regexp.MustCompile(`max-age=(\d+)`)

func startTLSGateway(t *testing.T, mutate ...func(*Config)) *tlsGateway {
	t.Helper()
	conf, pool := selfSigned(t)
	dir := t.TempDir()
	c := conf.Certificates[0]
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	qc, err := net.ListenPacket("udp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, demoRules(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Rules = rulesPath
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.S3.Endpoint, cfg.S3.Region, cfg.S3.PathStyle = testenv.S3(t), demo.Region, true
	cfg.S3.AccessKey, cfg.S3.SecretKey = demo.AccessKey, demo.SecretKey
	cfg.Listen, cfg.AdminListen, cfg.ListenTLS = pub.Addr().String(), adm.Addr().String(), tl.Addr().String()
	cfg.TLS.Certificates = []certs.FilePair{{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}}
	cfg.TLS.HTTP3 = true
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &testGateway{srv: srv, base: "http://" + pub.Addr().String(), admin: "http://" + adm.Addr().String(),
		cancel: cancel, done: make(chan error, 1), rules: rulesPath}
	go func() { g.done <- srv.ServeOn(ctx, Listeners{Public: pub, Admin: adm, TLS: tl, QUIC: qc}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-g.done:
			if err != nil {
				t.Errorf("ServeOn: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("gateway did not shut down in 10s")
		}
	})
	return &tlsGateway{testGateway: g, https: "https://" + tl.Addr().String(), pool: pool}
}

// With listen_tls, the gateway serves HTTPS (HTTP/1.1, HTTP/2, HTTP/3)
// from certificate files; the plain listener redirects to HTTPS with a
// 308, keeping the target, and /debug/tls lists the certificate.
func TestServeHTTPS(t *testing.T) {
	g := startTLSGateway(t)
	for name, c := range map[string]*http.Client{"h1": tlsClient(g.pool, false), "h2": tlsClient(g.pool, true), "h3": h3Client(t, g.pool)} {
		resp, err := c.Get(g.https + "/r/map-tiles.zip?region=egypt-cairo")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "egypt/cairo/map-tiles.zip") {
			t.Errorf("%s: %d %q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(g.https, "https://"))
	for _, tc := range []struct{ host, path, want string }{
		{"localhost", "/r/map-tiles.zip?region=uk", "https://localhost:" + port + "/r/map-tiles.zip?region=uk"},
		{"localhost:8080", "/img/thumbnail/a.jpg", "https://localhost:" + port + "/img/thumbnail/a.jpg"},
		{"[::1]:8080", "/", "https://[::1]:" + port + "/"},
	} {
		req, _ := http.NewRequest(http.MethodGet, g.base+tc.path, nil)
		req.Host = tc.host
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != tc.want {
			t.Errorf("plain %s%s: %d %q, want 308 %q", tc.host, tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.want)
		}
	}
	resp, body := get(t, g.base+"/.well-known/acme-challenge/nothing")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"status":404`) {
		t.Errorf("unknown ACME challenge: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, g.admin+"/debug/tls")
	var dt struct {
		Enabled      bool
		PlainHTTP    string `json:"plain_http"`
		Certificates []certs.CertStatus
	}
	if err := json.Unmarshal(body, &dt); err != nil || resp.StatusCode != 200 || !dt.Enabled || dt.PlainHTTP != "redirect" ||
		len(dt.Certificates) != 1 || !slices.Contains(dt.Certificates[0].Names, "localhost") {
		t.Errorf("/debug/tls: %d %s", resp.StatusCode, body)
	}
}

// tls.plain_http: serve keeps the plain listener serving (behind a CDN).
func TestServeHTTPSPlainServe(t *testing.T) {
	g := startTLSGateway(t, func(c *Config) { c.TLS.PlainHTTP = "serve" })
	resp, _ := get(t, g.base+"/r/map-tiles.zip?region=egypt-cairo")
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "egypt/cairo/") {
		t.Errorf("plain: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// edgegate check reports the TLS section's problems: a key that does not
// match its certificate, an unreadable file.
func TestCheckTLS(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, conf *tls.Config) {
		c := conf.Certificates[0]
		keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600)
		os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	}
	a, _ := selfSigned(t)
	b, _ := selfSigned(t)
	write("a", a)
	write("b", b)
	cfg, err := LoadConfig("../examples/edgegate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.ListenTLS = "127.0.0.1:18443"
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"matching pair", "a.crt", "a.key", ""},
		{"key of another certificate", "a.crt", "b.key", "private key does not match"},
		{"missing file", "a.crt", "none.key", "none.key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.TLS.Certificates = []certs.FilePair{{CertFile: filepath.Join(dir, tc.cert), KeyFile: filepath.Join(dir, tc.key)}}
			_, err := Check(c)
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Check: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// Bad input on the TLS port: plain HTTP, an unknown SNI, an oversized
// ClientHello and a client that never finishes its handshake each end
// with the connection closed (the last within tls.handshake_timeout),
// are counted by reason, and the listener keeps serving.
func TestTLSBadInput(t *testing.T) {
	g := startTLSGateway(t, func(c *Config) { c.TLS.HandshakeTimeout = time.Second })
	addr := strings.TrimPrefix(g.https, "https://")
	closedWithin := func(name string, c net.Conn, d time.Duration) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(d))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Errorf("%s: still open after %s", name, d)
				}
				return
			}
		}
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// Plain HTTP gets a readable 400, as from nginx, then a close.
	c := dial()
	c.Write([]byte("GET /r/map-tiles.zip HTTP/1.1\r\nHost: localhost\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("plain HTTP on the TLS port: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "https://") {
		t.Errorf("plain HTTP on the TLS port: %d %s", resp.StatusCode, body)
	}
	closedWithin("plain HTTP", c, 3*time.Second)

	c = dial()
	big := make([]byte, 70<<10)
	copy(big, []byte{0x16, 0x03, 0x01, 0xff, 0xff, 0x01}) // a handshake record longer than TLS allows
	c.Write(big)
	closedWithin("oversized ClientHello", c, 3*time.Second)

	c = dial()
	start := time.Now()
	closedWithin("silent client", c, 5*time.Second)
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("silent client closed after %s, before the 1s handshake timeout", d)
	}

	tc, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "unknown.example", InsecureSkipVerify: true})
	if err == nil {
		tc.Close()
		t.Error("unknown SNI: handshake succeeded")
	}

	// Still serving, and every failure counted by a reason.
	resp, err = tlsClient(g.pool, true).Get(g.https + "/r/map-tiles.zip?region=uk")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("after the bad input: %d", resp.StatusCode)
	}
	_, metrics := get(t, g.admin+"/metrics")
	var failures float64
	for _, line := range strings.Split(string(metrics), "\n") {
		if strings.HasPrefix(line, "edgegate_tls_handshake_errors_total{") {
			var v float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			failures += v
			t.Log(line)
		}
	}
	if failures < 4 {
		t.Errorf("%v handshake errors counted, want at least 4", failures)
	}
}

// Shutdown waits for requests in flight, not for an HTTP/3 client that
// went away without closing its connection (it would hold shutdown for
// the whole shutdown_timeout), and stops HTTPS and HTTP/3 together.
func TestShutdownWithVanishedHTTP3Client(t *testing.T) {
	g := startTLSGateway(t)
	// The client's UDP socket is ours: closing it makes the client vanish
	// without a CONNECTION_CLOSE, as a process that died would.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	qt := &quic.Transport{Conn: pc}
	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: g.pool, ServerName: "localhost"},
		Dial: func(ctx context.Context, addr string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			ua, err := net.ResolveUDPAddr("udp", addr)
			if err != nil {
				return nil, err
			}
			return qt.DialEarly(ctx, ua, tc, qc)
		}}
	resp, err := (&http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Get(g.https + "/r/map-tiles.zip?region=uk")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	pc.Close()
	defer qt.Close()
	start := time.Now()
	g.cancel()
	select {
	case err := <-g.done:
		g.done <- err // for the cleanup's check
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown in 10s")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %s with an idle HTTP/3 client (shutdown_timeout 5s), want well under it", d)
	}
}
