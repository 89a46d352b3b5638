package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// ReadinessConfig tunes the admin /readyz answer: it comes from a check
// that every routed bucket answers (an S3 HEAD bucket each), run in the
// background, never from S3 on the probe's own time.
type ReadinessConfig struct {
	// Interval is the time between background checks. Default 5s; at
	// least 10ms.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one check (s3.timeout bounds it too). Default 2s.
	Timeout time.Duration `yaml:"timeout"`
	// Failures is how many checks in a row must fail before /readyz
	// answers 503 (one slow check does not take every replica out of its
	// load balancer at once); one success makes it ready again. Default
	// 3; 1..100.
	Failures int `yaml:"failures"`
}

func (c ReadinessConfig) validate() error {
	if c.Interval < 10*time.Millisecond || c.Timeout <= 0 || c.Failures < 1 || c.Failures > 100 {
		return fmt.Errorf("config: readiness.interval (%v) must be at least 10ms, readiness.timeout (%v) positive and readiness.failures (%d) 1..100",
			c.Interval, c.Timeout, c.Failures)
	}
	return nil
}

// readiness holds the outcome of the background S3 checks behind
// /readyz. Until the first check has ended, and after Failures checks in
// a row have failed, it is not ready. It is safe for concurrent use.
type readiness struct {
	cfg     ReadinessConfig
	check   func(context.Context) error // one check: every routed bucket answers
	metrics *metrics
	log     *slog.Logger

	first     chan struct{} // closed when the first check has ended, or the loop stopped
	firstOnce sync.Once

	mu sync.Mutex
	st readyState
}

// readyState is what /readyz reports besides the rules.
type readyState struct {
	Ready               bool      `json:"ready"`
	CheckedAt           time.Time `json:"checked_at,omitzero"`  // when the last check ended
	ConsecutiveFailures int       `json:"consecutive_failures"` // failed checks since the last success
	LastError           string    `json:"last_error,omitempty"` // the last failed check's error
	LastErrorAt         time.Time `json:"last_error_at,omitzero"`
}

func newReadiness(cfg ReadinessConfig, check func(context.Context) error, m *metrics, log *slog.Logger) *readiness {
	m.ready.Set(0)
	return &readiness{cfg: cfg, check: check, metrics: m, log: log, first: make(chan struct{})}
}

// start runs the checks in the background, the first at once, until the
// returned stop is called; stop waits for the loop to end.
func (r *readiness) start() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.firstOnce.Do(func() { close(r.first) })
		t := time.NewTicker(r.cfg.Interval)
		defer t.Stop()
		for {
			r.once(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// once runs one check and records it.
func (r *readiness) once(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	err := r.check(cctx)
	cancel()
	if ctx.Err() != nil {
		return // stopping: not S3's failure
	}
	now := time.Now()
	r.mu.Lock()
	was := r.st.Ready
	r.st.CheckedAt = now
	if err == nil {
		r.st.Ready, r.st.ConsecutiveFailures = true, 0
	} else {
		r.st.ConsecutiveFailures++
		r.st.LastError, r.st.LastErrorAt = err.Error(), now
		if r.st.ConsecutiveFailures >= r.cfg.Failures {
			r.st.Ready = false
		}
	}
	st := r.st
	r.mu.Unlock()

	result := "success"
	if err != nil {
		result = "failure"
	}
	r.metrics.readinessChecks.WithLabelValues(result).Inc()
	switch {
	case st.Ready && !was:
		r.metrics.ready.Set(1)
		r.log.Info("ready: S3 answers")
	case !st.Ready && was:
		r.metrics.ready.Set(0)
		r.log.Warn("not ready: S3 checks failed", "consecutive_failures", st.ConsecutiveFailures, "err", err)
	case err != nil:
		r.log.Warn("readiness check failed", "consecutive_failures", st.ConsecutiveFailures, "ready", st.Ready, "err", err)
	}
	r.firstOnce.Do(func() { close(r.first) })
}

// state returns the current state, first waiting (up to the check
// timeout, or ctx) for the first check to end.
func (r *readiness) state(ctx context.Context) readyState {
	select {
	case <-r.first:
	default:
		t := time.NewTimer(r.cfg.Timeout + time.Second)
		defer t.Stop()
		select {
		case <-r.first:
		case <-t.C:
		case <-ctx.Done():
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

// checkS3 is the readiness check: every bucket the rules route to answers
// a HEAD bucket with our credentials.
func (s *Server) checkS3(ctx context.Context) error {
	t := s.rules.Table()
	if t == nil {
		return errors.New("gateway: no rules loaded")
	}
	return s.store.Ping(ctx, bucketsOf(t)...)
}

// readyz answers from the last background check: it never waits on S3
// (except for the very first check after start). Shutting down and "no
// rules loaded" are 503 at once.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	type answer struct {
		readyState
		Rules string `json:"rules,omitempty"`
		Error string `json:"error,omitempty"`
	}
	reply := func(status int, a answer) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(a)
	}
	t := s.rules.Table()
	if s.shuttingDown.Load() {
		reply(http.StatusServiceUnavailable, answer{Error: "shutting down"})
		return
	}
	if t == nil {
		reply(http.StatusServiceUnavailable, answer{Error: "no rules loaded"})
		return
	}
	a := answer{readyState: s.ready.state(r.Context()), Rules: t.Hash()}
	if !a.Ready {
		switch {
		case a.CheckedAt.IsZero():
			a.Error = "S3 unreachable: no check has finished yet"
		default:
			a.Error = fmt.Sprintf("S3 unreachable: %d checks in a row failed, the last: %s", a.ConsecutiveFailures, a.LastError)
		}
		reply(http.StatusServiceUnavailable, a)
		return
	}
	reply(http.StatusOK, a)
}
