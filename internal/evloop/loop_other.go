//go:build !linux || noevloop

package evloop

import (
	"context"
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
