//go:build !linux || noevloop

package evloop

import (
	"context"
	"errors"
	"testing"
)

// Without the loops, New says so with ErrUnsupported (the caller's cue
// to serve everything itself), and the stub's methods are harmless.
func TestNewUnsupportedWithoutLoops(t *testing.T) {
	s, err := New(nil, Config{})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("New: err = %v, want ErrUnsupported", err)
	}
	if s != nil {
		t.Fatalf("New: server = %v, want nil", s)
	}
	var z *Server
	if st := z.Stats(); st != (Stats{}) {
		t.Errorf("Stats = %+v, want zero", st)
	}
	if err := z.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
}
