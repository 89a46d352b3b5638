//go:build !linux || noevloop

package evloop

import (
	"context"
	"crypto/tls"
	"net"
)

// Server is unavailable in this build; see ErrUnsupported. New never
// returns one, so its methods are never called on a real value; they exist
// so that callers compile unchanged everywhere.
type Server struct{}

// New returns ErrUnsupported.
func New(h Handler, cfg Config) (*Server, error) { return nil, ErrUnsupported }

// Serve returns ErrUnsupported.
func (s *Server) Serve(ln net.Listener) error { return ErrUnsupported }

// Handoffs returns nil.
func (s *Server) Handoffs() net.Listener { return nil }

// Stats returns zero counters.
func (s *Server) Stats() Stats { return Stats{} }

// Shutdown returns nil.
func (s *Server) Shutdown(ctx context.Context) error { return nil }

// TLSConn is a *tls.Conn here: the loops never take one over.
type TLSConn struct{ *tls.Conn }

// NewTLSConn wraps c as the server side of a TLS connection with conf.
func NewTLSConn(c net.Conn, conf *tls.Config) *TLSConn { return &TLSConn{tls.Server(c, conf)} }

// ServeTLS does nothing: New never returns a Server here.
func (s *Server) ServeTLS(c *TLSConn) {}

// TLSHandoffs returns nil.
func (s *Server) TLSHandoffs() net.Listener { return nil }
