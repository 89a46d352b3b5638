package gateway

// HTTP/3 on listen_tls's UDP port (tls.http3): quic-go's server running the
// bridge, so its answers are the HTTP/1.1 handler's. Connections are
// admitted by the same limits as TCP ones (max_connections and per client
// IP); past them a new connection is closed with H3_EXCESSIVE_LOAD.
// Handshakes are counted as the TCP ones are, failures by the same
// reasons (certs.Manager.ObserveQUICHandshake): quic-go's ConnContext
// gives each connection a context that ends, with the close error as its
// cause, when the connection does; one that ends before the handshake
// completed is a failure, classified by quicHandshakeReason.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/edgegate/edgegate/certs"
)

// h3Server is the HTTP/3 side of the TLS listener.
type h3Server struct {
	srv  *http3.Server
	conf *quic.Config
	mu   sync.Mutex
	ln   *quic.EarlyListener
	tr   *quic.Transport
	wg   sync.WaitGroup // connections being served

	inflight atomic.Int64 // requests being answered, for shutdown

	// observe counts a handshake: "" finished, else its failure reason.
	observe func(reason string)
}

// h3Handshake is a QUIC connection's handshake as connContext and the
// accept loop see it.
type h3Handshake struct {
	conn atomic.Pointer[quic.Conn] // set once accepted
}

type h3HandshakeKey struct{}

// connContext is the Transport's ConnContext: when the connection ends
// before its handshake completed, the failure is counted by reason.
func (h *h3Server) connContext(ctx context.Context, _ *quic.ClientInfo) (context.Context, error) {
	hs := &h3Handshake{}
	context.AfterFunc(ctx, func() {
		if c := hs.conn.Load(); c != nil && handshakeDone(c) {
			return // counted by handshaken
		}
		if reason, failed := quicHandshakeReason(context.Cause(ctx)); failed {
			h.observe(reason)
		}
	})
	return context.WithValue(ctx, h3HandshakeKey{}, hs), nil
}

// handshaken waits until conn's handshake completes (counting it) or conn
// closes first (connContext counts that), and says which.
func (h *h3Server) handshaken(conn *quic.Conn) bool {
	select {
	case <-conn.HandshakeComplete():
	case <-conn.Context().Done():
		if !handshakeDone(conn) {
			return false
		}
	}
	h.observe("")
	return true
}

func handshakeDone(c *quic.Conn) bool {
	select {
	case <-c.HandshakeComplete():
		return true
	default:
		return false
	}
}

// quicHandshakeReason says whether cause, the error that closed a QUIC
// connection before its handshake completed, is a failed handshake, and
// its reason (a certs.Reason constant). Our own closes are not: shutdown,
// and connections refused by the connection limits.
func quicHandshakeReason(cause error) (reason string, failed bool) {
	var (
		te *quic.TransportError
		ae *quic.ApplicationError
		ht *quic.HandshakeTimeoutError
		it *quic.IdleTimeoutError
		sr *quic.StatelessResetError
	)
	switch {
	case cause == nil, errors.Is(cause, quic.ErrServerClosed), errors.Is(cause, quic.ErrTransportClosed),
		errors.Is(cause, context.Canceled):
		return "", false
	case errors.As(cause, &ht), errors.As(cause, &it):
		return certs.ReasonTimeout, true
	case errors.As(cause, &te) && te.ErrorCode.IsCryptoError():
		// Ours carries crypto/tls's error (our GetCertificate's among
		// them), which says more than the alert.
		if errs := te.Unwrap(); !te.Remote && len(errs) > 1 && errs[1] != nil {
			if r := certs.HandshakeReason(errs[1]); r != certs.ReasonOther {
				return r, true
			}
		}
		return certs.AlertReason(uint8(te.ErrorCode - 0x100)), true
	case errors.As(cause, &te):
		if te.Remote {
			return certs.ReasonEOF, true // the client gave up
		}
		return certs.ReasonOther, true // a protocol violation in its handshake
	case errors.As(cause, &ae):
		if ae.Remote {
			return certs.ReasonEOF, true
		}
		return "", false // refused by the connection limits
	case errors.As(cause, &sr):
		return certs.ReasonEOF, true
	}
	return certs.ReasonOther, true
}

// altSvc is the Alt-Svc value that advertises HTTP/3 on addr's port.
func altSvc(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return `h3=":` + port + `"; ma=86400`
}

func (s *Server) newH3(t *tlsServer) *h3Server {
	qc := &quic.Config{
		MaxIncomingStreams:    128, // as HTTP/2's concurrent streams
		MaxIncomingUniStreams: 16,
		HandshakeIdleTimeout:  s.cfg.TLSHandshakeTimeout(),
		MaxIdleTimeout:        s.public.IdleTimeout,
	}
	h := &h3Server{conf: qc, observe: func(string) {}}
	if s.certs != nil {
		h.observe = s.certs.ObserveQUICHandshake
	}
	h.srv = &http3.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.inflight.Add(1)
			defer h.inflight.Add(-1)
			t.bridge.ServeHTTP(w, r)
		}),
		TLSConfig:      http3.ConfigureTLSConfig(t.conf),
		QUICConfig:     qc,
		MaxHeaderBytes: 8 << 10,
		IdleTimeout:    s.public.IdleTimeout,
	}
	return h
}

// serveH3 accepts QUIC connections on pc until it is closed.
func (s *Server) serveH3(h *h3Server, pc net.PacketConn) error {
	tr := &quic.Transport{Conn: pc, ConnContext: h.connContext}
	ln, err := tr.ListenEarly(h.srv.TLSConfig, h.conf)
	if err != nil {
		return fmt.Errorf("gateway: HTTP/3 listen: %w", err)
	}
	h.mu.Lock()
	h.ln, h.tr = ln, tr
	h.mu.Unlock()
	for {
		conn, err := ln.Accept(context.Background())
		if err != nil {
			if errors.Is(err, quic.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("gateway: HTTP/3 accept: %w", err)
		}
		if hs, ok := conn.Context().Value(h3HandshakeKey{}).(*h3Handshake); ok {
			hs.conn.Store(conn)
		}
		peer := udpPeer(conn.RemoteAddr())
		if !s.conns.lim.Acquire(peer) {
			s.conns.quic.refusedPeer.Add(1)
			conn.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeExcessiveLoad), "too many connections from this address")
			continue
		}
		if s.conns.full() && s.conns.evictIdle() == 0 {
			s.conns.lim.RefusedFull(peer)
			s.conns.quic.refusedFull.Add(1)
			s.conns.lim.Release(peer)
			conn.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeExcessiveLoad), "too many connections")
			continue
		}
		s.conns.quic.accepted.Add(1)
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			defer s.conns.lim.Release(peer)
			// Without 0-RTT there is nothing to serve before the handshake.
			if h.handshaken(conn) {
				h.srv.ServeQUICConn(conn)
			}
		}()
	}
}

// shutdown sends GOAWAY, waits (within ctx) for the requests in flight,
// not for idle connections (a client that vanished would hold shutdown
// for its idle timeout), then closes the listener and the transport, which
// ends every connection.
func (h *h3Server) shutdown(ctx context.Context) error {
	gctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.srv.Shutdown(gctx) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-ctx.Done():
			err = ctx.Err()
			break wait
		case <-tick.C:
			if h.inflight.Load() == 0 {
				break wait
			}
		}
	}
	stop()
	h.mu.Lock()
	ln, tr := h.ln, h.tr
	h.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	if tr != nil {
		tr.Close()
	}
	h.wg.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("gateway: HTTP/3 shutdown: %w", err)
	}
	return nil
}

func udpPeer(a net.Addr) netip.Addr {
	if ua, ok := a.(*net.UDPAddr); ok {
		return ua.AddrPort().Addr().Unmap()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap.Addr().Unmap()
}
