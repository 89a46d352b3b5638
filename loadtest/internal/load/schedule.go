// Package load schedules requests and sends them over HTTP.
//
// OpenLoop sends at a fixed rate whatever the target does, and measures each
// request's latency from its intended send time, so a slow target cannot hide
// queueing delay (no coordinated omission). vegeta's Attacker was checked for
// this and not used as the scheduler: it stamps a result when a worker picks
// up a tick (vegeta lib/attack.go, hit: res.Timestamp = time.Since(began)),
// which hides the delay when its worker cap is reached. Sends that could not
// start by the end of the run are counted as missed; sends that started late
// are counted with their lag.
//
// ClosedLoop runs a fixed number of workers back to back, for maximum
// throughput.
package load

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Job is one scheduled send.
type Job struct {
	// Seq numbers jobs 0, 1, 2... in intended-time order.
	Seq uint64
	// Intended is when the request should be sent. Latency is measured
	// from here.
	Intended time.Time
}

// Do performs one job. It is called from worker goroutines.
type Do func(ctx context.Context, j Job)

// OpenLoopConfig configures OpenLoop.
type OpenLoopConfig struct {
	// Rate is requests per second; > 0.
	Rate float64
	// Duration is how long to send for; > 0.
	Duration time.Duration
	// MaxInFlight caps concurrent requests (workers); default 4096.
	MaxInFlight int
	// LateAfter is the send lag above which a send counts as late;
	// default 5ms.
	LateAfter time.Duration
}

// Validate checks the config and fills defaults.
func (c *OpenLoopConfig) Validate() error {
	if !(c.Rate > 0) {
		return errors.New("load: rate must be > 0")
	}
	if c.Duration <= 0 {
		return errors.New("load: duration must be > 0")
	}
	if c.MaxInFlight < 0 {
		return errors.New("load: max in-flight must be >= 0")
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 4096
	}
	if c.LateAfter <= 0 {
		c.LateAfter = 5 * time.Millisecond
	}
	return nil
}

// Accounting is the scheduler's record of send times.
type Accounting struct {
	// Intended is how many send times fell due during the run.
	Intended uint64 `json:"intended"`
	// Sent is how many were handed to a worker.
	Sent uint64 `json:"sent"`
	// Late is how many were sent more than LateAfter after their time.
	Late uint64 `json:"late"`
	// Missed is Intended - Sent: due, but no worker was free before the
	// run ended.
	Missed uint64 `json:"missed"`
	// MaxLag is the largest send lag, in milliseconds.
	MaxLagMs float64 `json:"max_lag_ms"`
	// Workers is the most workers that ran at once.
	Workers int `json:"workers"`
}

// OpenLoop sends jobs at cfg.Rate for cfg.Duration (or until ctx ends) and
// returns when every sent job has completed. onSend, if not nil, is called
// from the dispatcher after each send.
func OpenLoop(ctx context.Context, cfg OpenLoopConfig, do Do, onSend func(Accounting)) (Accounting, error) {
	if err := cfg.Validate(); err != nil {
		return Accounting{}, err
	}
	var (
		acc     Accounting
		wg      sync.WaitGroup
		jobs    = make(chan Job)
		workers int
		start   = time.Now()
		end     = start.Add(cfg.Duration)
		total   = uint64(cfg.Rate * cfg.Duration.Seconds())
		timer   = time.NewTimer(0)
		endT    = time.NewTimer(cfg.Duration)
		stopped bool
	)
	defer timer.Stop()
	defer endT.Stop()
	<-timer.C
	worker := func() {
		defer wg.Done()
		for j := range jobs {
			do(ctx, j)
		}
	}
	intendedAt := func(i uint64) time.Time {
		return start.Add(time.Duration(float64(i) * float64(time.Second) / cfg.Rate))
	}
	var i uint64
	for ; i < total && !stopped; i++ {
		at := intendedAt(i)
		if wait := time.Until(at); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				stopped = true
				continue
			}
		}
		j := Job{Seq: i, Intended: at}
		select {
		case jobs <- j:
		default:
			if workers < cfg.MaxInFlight {
				workers++
				wg.Add(1)
				go worker()
			}
			select {
			case jobs <- j:
			case <-endT.C:
				stopped = true
				continue
			case <-ctx.Done():
				stopped = true
				continue
			}
		}
		acc.Sent++
		lag := time.Since(at)
		if lag > cfg.LateAfter {
			acc.Late++
		}
		acc.MaxLagMs = max(acc.MaxLagMs, float64(lag)/float64(time.Millisecond))
		if onSend != nil {
			onSend(acc)
		}
	}
	// Send times that fell due: all of them if the run reached its end,
	// else those before the moment it stopped.
	now := time.Now()
	if ctx.Err() == nil || !now.Before(end) {
		acc.Intended = total
	} else {
		acc.Intended = min(total, uint64(now.Sub(start).Seconds()*cfg.Rate)+1)
		acc.Intended = max(acc.Intended, acc.Sent)
	}
	acc.Missed = acc.Intended - acc.Sent
	acc.Workers = workers
	close(jobs)
	wg.Wait()
	return acc, nil
}

// ClosedLoop runs workers that each send back to back for d (or until ctx
// ends). Jobs are numbered in send order; Intended is the send time.
func ClosedLoop(ctx context.Context, workers int, d time.Duration, do Do) (Accounting, error) {
	if workers <= 0 {
		return Accounting{}, errors.New("load: workers must be > 0")
	}
	if d <= 0 {
		return Accounting{}, errors.New("load: duration must be > 0")
	}
	// Requests in flight when the time is up are allowed to finish: they
	// use the parent context, not the expiring one.
	reqCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu  sync.Mutex
		seq uint64
		wg  sync.WaitGroup
	)
	// next stamps seq and time together so that both orders agree.
	next := func() (Job, bool) {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			return Job{}, false
		}
		j := Job{Seq: seq, Intended: time.Now()}
		seq++
		return j, true
	}
	for range workers {
		wg.Go(func() {
			for {
				j, ok := next()
				if !ok {
					return
				}
				do(reqCtx, j)
			}
		})
	}
	wg.Wait()
	return Accounting{Intended: seq, Sent: seq, Workers: workers}, nil
}
