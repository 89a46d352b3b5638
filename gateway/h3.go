package gateway

// HTTP/3 on listen_tls's UDP port (tls.http3): quic-go's server running the
// bridge, so its answers are the HTTP/1.1 handler's. Connections are
// admitted by the same limits as TCP ones (max_connections and per client
// IP); past them a new connection is closed with H3_EXCESSIVE_LOAD.

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
	h := &h3Server{conf: qc}
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
	tr := &quic.Transport{Conn: pc}
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
			h.srv.ServeQUICConn(conn)
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
