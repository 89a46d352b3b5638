//go:build !linux

package evloop

import (
	"context"
	"net"
)

// Server is unavailable here; see ErrUnsupported.
type Server struct{}

// New returns ErrUnsupported.
func New(h Handler, cfg Config) (*Server, error) { return nil, ErrUnsupported }

// Serve returns ErrUnsupported.
func (s *Server) Serve(ln net.Listener) error { return ErrUnsupported }

// Handoffs returns nil.
func (s *Server) Handoffs() net.Listener { return nil }

// Shutdown returns nil.
func (s *Server) Shutdown(ctx context.Context) error { return nil }
