package gateway

// The TLS listener: handshakes off the accept path (bounded by the
// connection limits and handshake_timeout, each outcome counted), then by
// ALPN: "h2" to the HTTP/2 server (internal/h2serve, see h2.go), anything
// else to the event loops (evloop.Server.ServeTLS: /r/ answered there as
// on the plain listener) and from them, or without loops, to a fasthttp
// server running the same handler as the plain listener. HTTP/3 (quic-go)
// serves the bridge too. The plain listener, when HTTPS is on, answers
// ACME HTTP-01 challenges and redirects the rest (308), unless
// tls.plain_http is "serve".

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/edgegate/edgegate/certs"
	"github.com/edgegate/edgegate/internal/evloop"
	"github.com/edgegate/edgegate/internal/h2serve"
)

// TLS handshake outcomes the listener reports (certs.Manager counts them).
type handshakeObserver func(err error)

// tlsServer is the HTTPS side of a Server: built by openTLS, run by
// serveTLS, stopped by shutdownTLS.
type tlsServer struct {
	conf    *tls.Config
	observe handshakeObserver
	h1      *fasthttp.Server
	h2      *h2serve.Server // for connections that chose "h2"
	bridge  http.Handler    // for HTTP/3
	altSvc  string          // Alt-Svc value when HTTP/3 is on

	mu     sync.Mutex
	ln     *handshakeListener // set by serveTLS
	closed bool               // closeListener was called
}

// newTLSServer builds the HTTPS transports around handler (the public
// fasthttp handler) with conf's certificates.
func (s *Server) newTLSServer(conf *tls.Config, observe handshakeObserver, altSvc string) *tlsServer {
	conf = conf.Clone()
	conf.NextProtos = appendMissing(conf.NextProtos, "h2", "http/1.1")
	if conf.MinVersion < tls.VersionTLS12 {
		conf.MinVersion = tls.VersionTLS12
	}
	t := &tlsServer{conf: conf, observe: observe, altSvc: altSvc}
	handler := s.Handler()
	var extra http.Header
	if altSvc != "" {
		s.altSvc.Store(&altSvc) // for the loops' HTTPS answers
		extra = http.Header{"Alt-Svc": {altSvc}}
		inner := handler
		hdrAltSvc, val := []byte("Alt-Svc"), []byte(altSvc)
		handler = func(ctx *fasthttp.RequestCtx) {
			inner(ctx)
			ctx.Response.Header.SetCanonical(hdrAltSvc, val)
		}
	}
	t.h1 = &fasthttp.Server{
		Handler:              handler,
		Name:                 s.public.Name,
		ReadTimeout:          s.public.ReadTimeout,
		WriteTimeout:         s.public.WriteTimeout,
		IdleTimeout:          s.public.IdleTimeout,
		NoDefaultContentType: true,
		ReadBufferSize:       s.public.ReadBufferSize,
		// A thumbnail and its headers in one buffer: one TLS record and one
		// write per answer, not a record per 4 KiB.
		WriteBufferSize: 16 << 10,
		CloseOnShutdown: true,
		Concurrency:     s.public.Concurrency,
		ConnState:       s.conns.connState,
		// As the plain listener's server (see New).
		Logger:                       s.public.Logger,
		ErrorHandler:                 s.public.ErrorHandler,
		SecureErrorLogMessage:        true,
		DisablePreParseMultipartForm: true,
		MaxRequestBodySize:           s.public.MaxRequestBodySize,
	}
	t.bridge = httpHandler(s.Handler(), s.public.Name, extra, s.log)
	// HTTP/2 connections are not idle-evictable by connLimit: they
	// multiplex requests and keep their own idle timeout. Their slot comes
	// back when they close (serveTLS).
	t.h2 = s.newH2(altSvc)
	return t
}

// openTLS prepares HTTPS when listen_tls is set: the certificate manager
// (metrics on the gateway's registry), the transports, and the plain
// listener's handler: a redirect to HTTPS (tls.plain_http: redirect) or
// the usual one (serve), both answering ACME HTTP-01 challenges first.
func (s *Server) openTLS(ctx context.Context) error {
	if s.cfg.ListenTLS == "" {
		return nil
	}
	m, err := certs.New(ctx, s.cfg.TLS.Config, certs.Options{Store: s.store, Log: s.log, Registerer: s.metrics.reg,
		HTTPPort: portOf(s.cfg.Listen, 80), TLSPort: portOf(s.cfg.ListenTLS, 443)})
	if err != nil {
		return fmt.Errorf("gateway: tls: %w", err)
	}
	s.certs = m
	alt := ""
	if s.cfg.TLS.HTTP3 {
		alt = altSvc(s.cfg.ListenTLS)
	}
	s.tls = s.newTLSServer(m.TLSConfig(), m.ObserveHandshake, alt)
	s.registerH2Metrics(s.tls.h2)
	if s.cfg.TLS.HTTP3 {
		s.h3 = s.newH3(s.tls)
	}
	challenge := fasthttpadaptor.NewFastHTTPHandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.HTTPChallenge(w, r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write(errorJSON(errorf(http.StatusNotFound, "no such ACME challenge")))
		}
	})
	if s.cfg.TLS.PlainHTTP == "serve" {
		inner := s.public.Handler
		s.public.Handler = func(ctx *fasthttp.RequestCtx) {
			if isACMEChallenge(rawPath(ctx.RequestURI())) {
				challenge(ctx)
				return
			}
			inner(ctx)
		}
		return nil
	}
	s.plainRedirect = true
	redirect := redirectHandler(portOf(s.cfg.ListenTLS, 443), challenge)
	s.public.Handler = s.observed(func(ctx *fasthttp.RequestCtx, _ *reqFacts) string {
		redirect(ctx)
		return "redirect"
	})
	return nil
}

// listenTLS opens listen_tls's TCP listener, and its UDP socket for
// HTTP/3; none when HTTPS is off.
func (s *Server) listenTLS() (net.Listener, net.PacketConn, error) {
	if s.tls == nil {
		return nil, nil, nil
	}
	ln, err := net.Listen("tcp", s.cfg.ListenTLS)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: listen_tls: %w", err)
	}
	if s.h3 == nil {
		return ln, nil, nil
	}
	pc, err := net.ListenPacket("udp", s.cfg.ListenTLS)
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("gateway: listen_tls (UDP, HTTP/3): %w", err)
	}
	return ln, pc, nil
}

// serveTLSListeners starts HTTPS (and HTTP/3) on l's listeners, then the
// certificate manager (ACME needs the listeners bound for its challenges).
// Serving errors go to errc.
func (s *Server) serveTLSListeners(ctx context.Context, l Listeners, errc chan<- error) {
	if s.tls == nil {
		return
	}
	s.log.Info("HTTPS listening", "addr", l.TLS.Addr().String(), "http3", l.QUIC != nil && s.h3 != nil,
		"plain_http", map[bool]string{true: "redirect", false: "serve"}[s.plainRedirect])
	go func() {
		if err := s.serveTLS(s.tls, l.TLS); err != nil {
			errc <- err
		}
	}()
	if s.h3 != nil && l.QUIC != nil {
		go func() {
			if err := s.serveH3(s.h3, l.QUIC); err != nil {
				errc <- err
			}
		}()
	}
	if err := s.certs.Start(ctx); err != nil {
		errc <- fmt.Errorf("gateway: tls: %w", err)
	}
}

// shutdownTLS ends HTTP/3 and HTTPS (GOAWAY, then in-flight requests
// within ctx) and stops the certificate manager.
func (s *Server) shutdownTLS(ctx context.Context) []error {
	// Both at once: neither keeps accepting while the other drains.
	var errs []error
	var h3err error
	var wg sync.WaitGroup
	if s.h3 != nil {
		wg.Go(func() { h3err = s.h3.shutdown(ctx) })
	}
	if s.tls != nil {
		if err := s.tls.shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	wg.Wait()
	if h3err != nil {
		errs = append(errs, h3err)
	}
	if s.certs != nil {
		if err := s.certs.Close(); err != nil {
			errs = append(errs, fmt.Errorf("gateway: tls: %w", err))
		}
	}
	return errs
}

// debugTLS lists the certificates served (admin GET /debug/tls).
func (s *Server) debugTLS(w http.ResponseWriter, _ *http.Request) {
	type answer struct {
		Enabled      bool               `json:"enabled"`
		Listen       string             `json:"listen_tls,omitempty"`
		HTTP3        bool               `json:"http3"`
		PlainHTTP    string             `json:"plain_http,omitempty"`
		Certificates []certs.CertStatus `json:"certificates"`
	}
	a := answer{Certificates: []certs.CertStatus{}}
	if s.certs != nil {
		a = answer{Enabled: true, Listen: s.cfg.ListenTLS, HTTP3: s.h3 != nil, PlainHTTP: "serve", Certificates: s.certs.Status()}
		if s.plainRedirect {
			a.PlainHTTP = "redirect"
		}
	}
	writeJSON(w, http.StatusOK, a)
}

// portOf is addr's port, or def when it names none.
func portOf(addr string, def int) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return def
	}
	n, err := strconv.Atoi(p)
	if err != nil || n == 0 {
		return def
	}
	return n
}

func isACMEChallenge(path []byte) bool {
	return len(path) > len(acmePrefix) && string(path[:len(acmePrefix)]) == acmePrefix
}

// serveTLS serves HTTPS on ln (a TCP listener) until it is closed:
// HTTP/1.1 on fasthttp, HTTP/2 on h2serve, split by ALPN.
func (s *Server) serveTLS(t *tlsServer, ln net.Listener) error {
	loops := s.loops.Load()
	t.mu.Lock()
	if t.closed { // shut down before it started
		t.mu.Unlock()
		return ln.Close()
	}
	hl := newHandshakeListener(s.conns.listener(ln), t.conf, s.cfg.TLSHandshakeTimeout(), t.observe,
		func(c net.Conn) { s.conns.lim.Release(remoteAddr(c)) }, loops)
	t.ln = hl
	t.mu.Unlock()
	h2ln := hl.h2Listener()
	go func() {
		for {
			c, err := h2ln.Accept()
			if err != nil {
				return // the handshake listener closed (HTTPS shutdown)
			}
			go func() {
				t.h2.ServeConn(c)
				s.conns.lim.Release(remoteAddr(c))
			}()
		}
	}()
	if loops != nil { // HTTP/1.1 goes to the loops, fasthttp gets what they give up
		return t.h1.Serve(loops.TLSHandoffs())
	}
	return t.h1.Serve(hl)
}

// shutdownTLS sends HTTP/2 connections GOAWAY, stops accepting and waits
// for in-flight requests, within ctx.
func (t *tlsServer) shutdown(ctx context.Context) error {
	var errs []error
	t.closeListener()
	if err := t.h2.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway: HTTP/2 shutdown: %w", err))
	}
	if err := t.h1.ShutdownWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway: HTTPS shutdown: %w", err))
	}
	return errors.Join(errs...)
}

// closeListener stops accepting HTTPS connections (fasthttp's Shutdown
// closes only the listener it serves, which is the loops' hand-offs when
// they run).
func (t *tlsServer) closeListener() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	if t.ln != nil {
		t.ln.Close()
	}
}

// handshakeListener completes TLS handshakes on their own goroutines and
// returns only connections whose handshake succeeded, so that a slow or
// failed handshake neither holds up Accept nor reaches a server (fasthttp
// would log every failure). Each handshake is bounded by timeout; a failed
// one gives its connection slot back through release. Connections that
// chose "h2" come out of h2Listener; the others go to loops when set, else
// out of Accept.
type handshakeListener struct {
	net.Listener
	conf    *tls.Config
	timeout time.Duration
	observe handshakeObserver
	release func(net.Conn)
	loops   *evloop.Server // nil: HTTP/1.1 connections come out of Accept

	ready     chan net.Conn
	readyH2   chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	acceptErr chan error
}

func newHandshakeListener(ln net.Listener, conf *tls.Config, timeout time.Duration, observe handshakeObserver, release func(net.Conn), loops *evloop.Server) *handshakeListener {
	l := &handshakeListener{Listener: ln, conf: conf, timeout: timeout, observe: observe, release: release, loops: loops,
		ready: make(chan net.Conn), readyH2: make(chan net.Conn), done: make(chan struct{}), acceptErr: make(chan error, 1)}
	go l.acceptLoop()
	return l
}

func (l *handshakeListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.acceptErr <- err
			return
		}
		go l.handshake(c)
	}
}

func (l *handshakeListener) handshake(c net.Conn) {
	tc := evloop.NewTLSConn(c, l.conf)
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if l.observe != nil {
		l.observe(err)
	}
	// An ACME TLS-ALPN-01 validation ends with its handshake.
	if err == nil && tc.ConnectionState().NegotiatedProtocol == "acme-tls/1" {
		err = errors.New("acme-tls/1 validation")
	}
	if err != nil {
		// Plain HTTP sent to the TLS port gets an answer it can read, as
		// from nginx and net/http, not just a closed connection.
		var rhe tls.RecordHeaderError
		if errors.As(err, &rhe) && rhe.Conn != nil && looksLikeHTTP(rhe.RecordHeader[:]) {
			rhe.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			rhe.Conn.Write(plainToTLSAnswer)
		}
		c.Close()
		l.release(c)
		return
	}
	ready := l.ready
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		ready = l.readyH2
	} else if l.loops != nil {
		l.loops.ServeTLS(tc)
		return
	}
	select {
	case ready <- tc.Conn:
	case <-l.done:
		c.Close()
		l.release(c)
	}
}

// plainToTLSAnswer is the whole answer to an HTTP request on the TLS port.
var plainToTLSAnswer = func() []byte {
	body := errorJSON(errorf(http.StatusBadRequest, "this port speaks HTTPS: use https://"))
	return []byte("HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + string(body))
}()

// looksLikeHTTP reports whether the first bytes of a connection begin an
// HTTP/1 request line (an upper-case method and a space).
func looksLikeHTTP(b []byte) bool {
	for _, m := range []string{"GET ", "HEAD ", "POST ", "PUT ", "DELET", "OPTIO", "PATCH", "CONNE", "TRACE"} {
		if len(b) >= len(m) && string(b[:len(m)]) == m {
			return true
		}
	}
	return false
}

// Accept returns the next connection whose handshake succeeded.
func (l *handshakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.acceptErr:
		l.acceptErr <- err // every later Accept sees it too
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// h2Listener returns the connections that chose HTTP/2. Closing it
// (net/http's Shutdown does) ends its Accept; closing the handshake
// listener ends both.
func (l *handshakeListener) h2Listener() net.Listener {
	return &h2Listener{l: l, closed: make(chan struct{})}
}

type h2Listener struct {
	l      *handshakeListener
	closed chan struct{}
	once   sync.Once
}

func (h *h2Listener) Accept() (net.Conn, error) {
	select {
	case c := <-h.l.readyH2:
		return c, nil
	case <-h.l.done:
		return nil, net.ErrClosed
	case <-h.closed:
		return nil, net.ErrClosed
	}
}

func (h *h2Listener) Close() error {
	h.once.Do(func() { close(h.closed) })
	return nil
}

func (h *h2Listener) Addr() net.Addr { return h.l.Addr() }

// Close stops accepting; handshakes in progress end with their conns
// closed. Closing it again does nothing.
func (l *handshakeListener) Close() error {
	var err error
	l.closeOnce.Do(func() { // shutdown closes it, then fasthttp when it serves it
		err = l.Listener.Close()
		close(l.done)
	})
	return err
}

// redirectHandler answers the plain listener when HTTPS is on and plain
// HTTP is not served: ACME HTTP-01 challenges through challenge, anything
// else a 308 to the same target on https://, the HTTPS port named when it
// is not 443.
func redirectHandler(tlsPort int, challenge fasthttp.RequestHandler) fasthttp.RequestHandler {
	port := ""
	if tlsPort != 443 {
		port = ":" + strconv.Itoa(tlsPort)
	}
	return func(ctx *fasthttp.RequestCtx) {
		path := rawPath(ctx.RequestURI())
		if challenge != nil && isACMEChallenge(path) {
			challenge(ctx)
			return
		}
		host := string(ctx.Host())
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if host == "" || !validHost(host) {
			writeError(ctx, errorf(http.StatusBadRequest, "a Host header naming this server is required"))
			return
		}
		if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
			host = "[" + host + "]"
		}
		ctx.Response.Header.Set("Location", "https://"+host+port+string(originForm(ctx.RequestURI())))
		ctx.Response.Header.Set("Cache-Control", "no-store")
		ctx.SetStatusCode(http.StatusPermanentRedirect)
	}
}

const acmePrefix = "/.well-known/acme-challenge/"

// validHost reports whether h (a Host without its port) is a plausible
// DNS name or IP literal: letters, digits, '-', '.', and ':' for IPv6.
func validHost(h string) bool {
	if len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

func appendMissing(list []string, want ...string) []string {
	for _, w := range want {
		found := false
		for _, p := range list {
			if p == w {
				found = true
			}
		}
		if !found {
			list = append(list, w)
		}
	}
	return list
}
