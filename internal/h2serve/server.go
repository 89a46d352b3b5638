package h2serve

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts a Server's connections and what its limits refused.
type Stats struct {
	Conns             uint64 // connections served
	Streams           uint64 // requests answered
	Slow              uint64 // of them, by Slow
	RefusedStreams    uint64 // streams past MaxConcurrentStreams
	HeadersTooLarge   uint64 // header blocks past MaxHeaderBytes (431)
	ResetFloods       uint64 // connections past ResetBudget
	ControlFloods     uint64 // connections past ControlBudget
	ProtocolErrors    uint64 // connections ended by a protocol error
	StreamErrors      uint64 // streams reset for a malformed request
	Timeouts          uint64 // connections ended by a timeout (handshake, header block, idle)
	FlowControlStalls uint64 // connections ended waiting for WINDOW_UPDATE
}

type counters struct {
	conns, streams, slow, refused, tooLarge, resetFloods, controlFloods,
	protocolErrors, streamErrors, timeouts, stalls atomic.Uint64
}

// Server serves HTTP/2 connections handed to ServeConn. Safe for
// concurrent use.
type Server struct {
	cfg  Config
	h    Handler
	sem  chan struct{}
	stat counters

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown bool
	done     chan struct{} // closed when shutdown begins
	idle     chan struct{} // signalled when a connection ends
}

// New returns a Server answering with h; cfg is validated.
func New(cfg Config, h Handler) (*Server, error) {
	cfg, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, h: h, sem: make(chan struct{}, cfg.MaxSlow),
		conns: make(map[*conn]struct{}), done: make(chan struct{}), idle: make(chan struct{}, 1)}, nil
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	c := &s.stat
	return Stats{Conns: c.conns.Load(), Streams: c.streams.Load(), Slow: c.slow.Load(),
		RefusedStreams: c.refused.Load(), HeadersTooLarge: c.tooLarge.Load(),
		ResetFloods: c.resetFloods.Load(), ControlFloods: c.controlFloods.Load(),
		ProtocolErrors: c.protocolErrors.Load(), StreamErrors: c.streamErrors.Load(),
		Timeouts: c.timeouts.Load(), FlowControlStalls: c.stalls.Load()}
}

// ServeConn serves one connection (after its TLS handshake, if any) until
// it ends, and closes it. A *tls.Conn's state is given to the requests.
func (s *Server) ServeConn(nc net.Conn) {
	c := newConn(s, nc)
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		c.tls = &st
	}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.stat.conns.Add(1)
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		select {
		case s.idle <- struct{}{}:
		default:
		}
	}()
	c.serve()
}

// Shutdown sends every connection GOAWAY, lets the streams open finish,
// and returns when all connections have ended, or closes the rest when
// ctx ends (returning ctx's error). New connections are closed at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.shutdown {
		s.shutdown = true
		close(s.done)
	}
	for c := range s.conns {
		c.wake()
	}
	s.mu.Unlock()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		case <-s.idle:
		case <-tick.C:
		}
	}
}

// Close closes every connection at once.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.shutdown {
		s.shutdown = true
		close(s.done)
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
}

func (s *Server) closing() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}
