package h2serve

import (
	"errors"
	"fmt"
	"time"
)

// Config holds a Server's limits. The zero value of a field means its
// default; Validate fills the defaults in and checks the bounds.
type Config struct {
	// MaxConcurrentStreams is the streams a connection may have open at
	// once (SETTINGS_MAX_CONCURRENT_STREAMS). A stream past it is refused
	// (RST_STREAM REFUSED_STREAM). Default 128 (nginx's), 1..1000.
	MaxConcurrentStreams int
	// MaxHeaderBytes bounds a request's header list, decoded (RFC 9113
	// field sizes: name + value + 32 each) and raw (HEADERS and
	// CONTINUATION payloads together). Past it the request gets a 431.
	// Default 8192 bytes, 1024..1 MiB.
	MaxHeaderBytes int
	// MaxUnsentBytes is how much output a connection may have waiting
	// before it is written out at once, which stops reading until the peer
	// takes it. Default 256 KiB, 4 KiB..64 MiB.
	MaxUnsentBytes int
	// ResetBudget is the RST_STREAM frames a client may send, plus the
	// streams the server had to refuse or reset, per BudgetWindow; past it
	// the connection gets GOAWAY ENHANCE_YOUR_CALM. Default 200, 1..1e6.
	ResetBudget int
	// ControlBudget is the control frames (SETTINGS, PING, PRIORITY, empty
	// DATA without END_STREAM, unknown types) a client may send per
	// BudgetWindow; past it, GOAWAY ENHANCE_YOUR_CALM. Default 1000, 1..1e6.
	ControlBudget int
	// BudgetWindow is the window of the two budgets. Default 10 s,
	// 1 s..10 min.
	BudgetWindow time.Duration
	// HandshakeTimeout bounds the client's preface and first SETTINGS
	// frame. Default 10 s, 1 ms..24 h.
	HandshakeTimeout time.Duration
	// ReadTimeout bounds one header block (HEADERS through its last
	// CONTINUATION) and any one frame once its first byte arrived.
	// Default 10 s, 1 ms..24 h.
	ReadTimeout time.Duration
	// IdleTimeout closes (GOAWAY NO_ERROR) a connection that sent no frame
	// for that long while no Slow handler of its is running; it also ends
	// a connection whose answers wait that long for a WINDOW_UPDATE
	// (whatever other frames it sends meanwhile).
	// Default 60 s, 1 ms..24 h.
	IdleTimeout time.Duration
	// WriteTimeout bounds one write of the batched output. Default 10 s,
	// 1 ms..24 h.
	WriteTimeout time.Duration
	// MaxSlow bounds the Slow handlers running at once over all
	// connections; a request past it waits on its goroutine. Default 1024,
	// 1..1e6.
	MaxSlow int
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxConcurrentStreams, 128)
	def(&c.MaxHeaderBytes, 8<<10)
	def(&c.MaxUnsentBytes, 256<<10)
	def(&c.ResetBudget, 200)
	def(&c.ControlBudget, 1000)
	def(&c.MaxSlow, 1024)
	defd(&c.BudgetWindow, 10*time.Second)
	defd(&c.HandshakeTimeout, 10*time.Second)
	defd(&c.ReadTimeout, 10*time.Second)
	defd(&c.IdleTimeout, 60*time.Second)
	defd(&c.WriteTimeout, 10*time.Second)
	return c
}

// Validate returns c with its defaults filled in, or an error naming every
// field out of bounds.
func (c Config) Validate() (Config, error) {
	c = c.withDefaults()
	var errs []error
	in := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("h2serve: %s %d out of [%d, %d]", name, v, lo, hi))
		}
	}
	ind := func(name string, v, lo, hi time.Duration) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("h2serve: %s %v out of [%v, %v]", name, v, lo, hi))
		}
	}
	in("max_concurrent_streams", c.MaxConcurrentStreams, 1, 1000)
	in("max_header_bytes", c.MaxHeaderBytes, 1024, 1<<20)
	in("max_unsent_bytes", c.MaxUnsentBytes, 4<<10, 64<<20)
	in("reset_budget", c.ResetBudget, 1, 1e6)
	in("control_budget", c.ControlBudget, 1, 1e6)
	in("max_slow", c.MaxSlow, 1, 1e6)
	ind("budget_window", c.BudgetWindow, time.Second, 10*time.Minute)
	ind("handshake_timeout", c.HandshakeTimeout, time.Millisecond, 24*time.Hour)
	ind("read_timeout", c.ReadTimeout, time.Millisecond, 24*time.Hour)
	ind("idle_timeout", c.IdleTimeout, time.Millisecond, 24*time.Hour)
	ind("write_timeout", c.WriteTimeout, time.Millisecond, 24*time.Hour)
	return c, errors.Join(errs...)
}
