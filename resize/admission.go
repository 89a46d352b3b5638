package resize

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
)

// Admission bounds the megapixels being processed at once, since libvips'
// memory grows with the pixels it decodes. Requests that do not fit wait in
// FIFO order in a bounded queue; a full queue or a wait over MaxWait is
// refused with a 429 *Error carrying a Retry-After hint.
//
// A request larger than the whole budget is admitted alone: it waits until
// nothing else is running, then holds the entire budget (so nothing else
// starts) until released. Whether such sources are allowed at all is
// decided earlier by MaxSourcePixels.
//
// Admission is safe for concurrent use.
type Admission struct {
	budget   int
	maxQueue int
	maxWait  time.Duration

	mu      sync.Mutex
	inUse   int       // megapixels held by admitted requests
	running int       // admitted requests not yet released
	queue   []*waiter // FIFO
}

type waiter struct {
	mp    int
	ready chan struct{} // closed when admitted
	done  bool          // admitted (under mu)
}

// NewAdmission returns an Admission with a budget of budgetMP megapixels,
// at most maxQueue waiters and waits of at most maxWait. Values below 1
// (budget, maxWait) are raised to 1 MP and 1 ms; a negative maxQueue is 0.
func NewAdmission(budgetMP, maxQueue int, maxWait time.Duration) *Admission {
	return &Admission{
		budget:   max(budgetMP, 1),
		maxQueue: max(maxQueue, 0),
		maxWait:  max(maxWait, time.Millisecond),
	}
}

// NewAdmission returns the Admission the Processor's Config describes.
func (p *Processor) NewAdmission() *Admission {
	return NewAdmission(p.cfg.BudgetMegapixels, p.cfg.MaxQueue, p.cfg.MaxWait)
}

// retryAfter is the Retry-After hint in whole seconds: the longest wait a
// queued request may have, at least 1.
func (a *Admission) retryAfter() int {
	return max(1, int(math.Ceil(a.maxWait.Seconds())))
}

// Acquire admits a request costing megapixels (values below 1 count as 1),
// waiting in FIFO order while the budget is exhausted. It returns a release
// function that must be called exactly once when the work is done (extra
// calls are ignored). Errors are *Error: 429 wrapping ErrBusy (queue full,
// or MaxWait passed) with RetryAfter set, or 503 wrapping ctx.Err() when ctx
// ends first.
func (a *Admission) Acquire(ctx context.Context, megapixels int) (release func(), err error) {
	mp := max(megapixels, 1)
	if err := ctx.Err(); err != nil {
		return nil, &Error{Status: statusServiceUnavailable, Msg: "request ended before admission", Err: err}
	}
	a.mu.Lock()
	if len(a.queue) == 0 && a.fits(mp) {
		a.admit(mp)
		a.mu.Unlock()
		return a.releaser(mp), nil
	}
	if len(a.queue) >= a.maxQueue {
		a.mu.Unlock()
		return nil, tooMany("too many images in progress",
			fmt.Errorf("wait queue full (%d)", a.maxQueue), a.retryAfter())
	}
	w := &waiter{mp: mp, ready: make(chan struct{})}
	a.queue = append(a.queue, w)
	a.mu.Unlock()

	timer := time.NewTimer(a.maxWait)
	defer timer.Stop()
	var fail *Error
	select {
	case <-w.ready:
		return a.releaser(mp), nil
	case <-timer.C:
		fail = tooMany("too many images in progress",
			fmt.Errorf("waited %v for %d MP", a.maxWait, mp), a.retryAfter())
	case <-ctx.Done():
		fail = &Error{Status: statusServiceUnavailable, Msg: "request ended while waiting", Err: ctx.Err()}
	}

	a.mu.Lock()
	if w.done {
		// Admitted just as we gave up: hand the budget back.
		a.releaseLocked(mp)
	} else {
		for i, q := range a.queue {
			if q == w {
				a.queue = append(a.queue[:i], a.queue[i+1:]...)
				break
			}
		}
		// Leaving may unblock those behind us.
		a.wakeLocked()
	}
	a.mu.Unlock()
	return nil, fail
}

// fits reports whether mp may start now. Called with mu held.
func (a *Admission) fits(mp int) bool {
	return a.inUse+mp <= a.budget || a.running == 0
}

func (a *Admission) admit(mp int) {
	a.inUse += mp
	a.running++
}

func (a *Admission) releaser(mp int) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			a.releaseLocked(mp)
			a.mu.Unlock()
		})
	}
}

func (a *Admission) releaseLocked(mp int) {
	a.inUse -= mp
	a.running--
	a.wakeLocked()
}

// wakeLocked admits waiters from the head of the queue while they fit. It
// stops at the first that does not, so a large request is not starved by
// small ones behind it.
func (a *Admission) wakeLocked() {
	for len(a.queue) > 0 && a.fits(a.queue[0].mp) {
		w := a.queue[0]
		a.queue[0] = nil
		a.queue = a.queue[1:]
		a.admit(w.mp)
		w.done = true
		close(w.ready)
	}
}

// InUse returns the megapixels currently admitted and the number waiting,
// for metrics.
func (a *Admission) InUse() (megapixels, waiting int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inUse, len(a.queue)
}
