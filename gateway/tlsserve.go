package gateway

// The TLS listener: handshakes off the accept path (bounded by the
// connection limits and handshake_timeout, each outcome counted), then by
// ALPN: "h2" to the HTTP/2 server (net/http's, through the bridge), anything
// else to a fasthttp server running the same handler as the plain
// listener. HTTP/3 (quic-go) serves the bridge too. The plain listener,
// when HTTPS is on, answers ACME HTTP-01 challenges and redirects the rest
// (308), unless tls.plain_http is "serve".

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/http2"
)

// TLS handshake outcomes the listener reports (certs.Manager counts them).
type handshakeObserver func(err error)

// tlsServer is the HTTPS side of a Server: built by openTLS, run by
// serveTLS, stopped by shutdownTLS.
type tlsServer struct {
	conf    *tls.Config
	observe handshakeObserver
	h1      *fasthttp.Server
	h2      *http2.Server
	h2base  *http.Server // HTTP/2's base config; its Shutdown sends GOAWAY
	bridge  http.Handler // for HTTP/2 and HTTP/3
	altSvc  string       // Alt-Svc value when HTTP/3 is on
	ln      *handshakeListener
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
		CloseOnShutdown:      true,
		Concurrency:          s.public.Concurrency,
		ConnState:            s.conns.connState,
		Logger:               fasthttpLogger{s.log},
	}
	t.bridge = httpHandler(s.Handler(), s.public.Name, extra, s.log)
	t.h2 = &http2.Server{
		MaxConcurrentStreams: 128, // nginx's http2_max_concurrent_streams
		IdleTimeout:          s.public.IdleTimeout,
		MaxReadFrameSize:     16 << 10,
	}
	t.h2base = &http.Server{
		ReadTimeout:    s.cfg.ReadTimeout,
		WriteTimeout:   s.cfg.WriteTimeout,
		MaxHeaderBytes: 8 << 10, // as HTTP/1.1's head limit
		ErrorLog:       nil,
	}
	if err := http2.ConfigureServer(t.h2base, t.h2); err != nil {
		// Only fails for a TLSConfig that forbids HTTP/2; h2base has none.
		panic(fmt.Sprintf("gateway: http2.ConfigureServer: %v", err))
	}
	t.h1.NextProto("h2", func(c net.Conn) error {
		// Not idle-evictable: HTTP/2 keeps its own idle timeout, and a
		// connection multiplexing requests is never "idle" to fasthttp.
		s.conns.connState(c, fasthttp.StateActive)
		t.h2.ServeConn(c, &http2.ServeConnOpts{Handler: t.bridge, BaseConfig: t.h2base})
		return nil
	})
	return t
}

// serveTLS serves HTTPS on ln (a TCP listener) until it is closed.
func (s *Server) serveTLS(t *tlsServer, ln net.Listener) error {
	t.ln = newHandshakeListener(s.conns.listener(ln), t.conf, s.cfg.TLSHandshakeTimeout(), t.observe,
		func(c net.Conn) { s.conns.lim.Release(remoteAddr(c)) })
	return t.h1.Serve(t.ln)
}

// shutdownTLS sends HTTP/2 connections GOAWAY, stops accepting and waits
// for in-flight requests, within ctx.
func (t *tlsServer) shutdown(ctx context.Context) error {
	var errs []error
	if err := t.h2base.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway: HTTP/2 shutdown: %w", err))
	}
	if err := t.h1.ShutdownWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("gateway: HTTPS shutdown: %w", err))
	}
	return errors.Join(errs...)
}

// handshakeListener completes TLS handshakes on their own goroutines and
// returns only connections whose handshake succeeded, so that a slow or
// failed handshake neither holds up Accept nor reaches fasthttp (which
// would log every failure). Each handshake is bounded by timeout; a failed
// one gives its connection slot back through release.
type handshakeListener struct {
	net.Listener
	conf    *tls.Config
	timeout time.Duration
	observe handshakeObserver
	release func(net.Conn)

	ready     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	acceptErr chan error
}

func newHandshakeListener(ln net.Listener, conf *tls.Config, timeout time.Duration, observe handshakeObserver, release func(net.Conn)) *handshakeListener {
	l := &handshakeListener{Listener: ln, conf: conf, timeout: timeout, observe: observe, release: release,
		ready: make(chan net.Conn), done: make(chan struct{}), acceptErr: make(chan error, 1)}
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
	tc := tls.Server(c, l.conf)
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
		c.Close()
		l.release(c)
		return
	}
	select {
	case l.ready <- tc:
	case <-l.done:
		c.Close()
		l.release(c)
	}
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

// Close stops accepting; handshakes in progress end with their conns
// closed.
func (l *handshakeListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
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
		if challenge != nil && len(path) > len(acmePrefix) && string(path[:len(acmePrefix)]) == acmePrefix {
			challenge(ctx)
			return
		}
		host := string(ctx.Host())
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
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
