package resize

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitQueued polls until n requests are waiting.
func waitQueued(t *testing.T, a *Admission, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, q := a.InUse(); q == n {
			return
		}
		if time.Now().After(deadline) {
			_, q := a.InUse()
			t.Fatalf("%d waiting, want %d", q, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAdmissionBudgetNeverExceeded(t *testing.T) {
	const budget = 64
	a := NewAdmission(budget, 1000, 10*time.Second)
	var inFlight, maxSeen, admitted atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 1))
			mp := 1 + r.IntN(30)
			release, err := a.Acquire(context.Background(), mp)
			if err != nil {
				t.Errorf("Acquire(%d): %v", mp, err)
				return
			}
			now := inFlight.Add(int64(mp))
			for {
				m := maxSeen.Load()
				if now <= m || maxSeen.CompareAndSwap(m, now) {
					break
				}
			}
			time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond)
			inFlight.Add(-int64(mp))
			admitted.Add(1)
			release()
		}(uint64(i))
	}
	wg.Wait()
	if m := maxSeen.Load(); m > budget {
		t.Errorf("max in flight %d MP, budget %d", m, budget)
	}
	if maxSeen.Load() < budget/2 {
		t.Errorf("max in flight only %d MP: admission is not letting work overlap", maxSeen.Load())
	}
	if admitted.Load() != 200 {
		t.Errorf("%d of 200 admitted", admitted.Load())
	}
	if mp, q := a.InUse(); mp != 0 || q != 0 {
		t.Errorf("after all released: %d MP in use, %d waiting", mp, q)
	}
}

func TestAdmissionQueueFull(t *testing.T) {
	a := NewAdmission(10, 2, 5*time.Second)
	hold, err := a.Acquire(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := a.Acquire(context.Background(), 5)
			if err != nil {
				t.Errorf("queued Acquire: %v", err)
				return
			}
			release()
		}()
	}
	waitQueued(t, a, 2)
	start := time.Now()
	_, err = a.Acquire(context.Background(), 1)
	var e *Error
	if !errors.As(err, &e) || e.Status != 429 || !errors.Is(err, ErrBusy) || e.RetryAfter != 5 {
		t.Fatalf("third waiter: %v (%+v); want 429 ErrBusy with Retry-After 5", err, e)
	}
	if time.Since(start) > time.Second {
		t.Error("a full queue should refuse at once, not wait")
	}
	hold()
	wg.Wait()
}

func TestAdmissionWaitTimeout(t *testing.T) {
	a := NewAdmission(10, 5, 50*time.Millisecond)
	hold, _ := a.Acquire(context.Background(), 8)
	defer hold()
	start := time.Now()
	_, err := a.Acquire(context.Background(), 5)
	elapsed := time.Since(start)
	var e *Error
	if !errors.As(err, &e) || e.Status != 429 || e.RetryAfter != 1 {
		t.Fatalf("Acquire = %v; want 429 with Retry-After 1", err)
	}
	if elapsed < 40*time.Millisecond {
		t.Errorf("gave up after %v, before MaxWait", elapsed)
	}
	if _, q := a.InUse(); q != 0 {
		t.Errorf("timed-out waiter still queued (%d)", q)
	}
	// Budget left for something that fits.
	r, err := a.Acquire(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	r()
}

func TestAdmissionFIFO(t *testing.T) {
	a := NewAdmission(10, 10, 5*time.Second)
	hold, _ := a.Acquire(context.Background(), 10)
	type grant struct {
		name    string
		release func()
	}
	admitted := make(chan grant, 3)
	start := func(name string, mp int) {
		go func() {
			r, err := a.Acquire(context.Background(), mp)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				r = func() {}
			}
			admitted <- grant{name, r}
		}()
	}
	next := func() grant {
		select {
		case g := <-admitted:
			return g
		case <-time.After(5 * time.Second):
			t.Fatal("nothing admitted")
			return grant{}
		}
	}
	start("big", 9)
	waitQueued(t, a, 1)
	start("small", 2) // 9+2 > 10: waits for big
	waitQueued(t, a, 2)
	start("tiny", 1) // would fit beside big, but must not overtake small
	waitQueued(t, a, 3)

	hold()
	big := next()
	if big.name != "big" {
		t.Fatalf("first admitted %s, want big", big.name)
	}
	select {
	case g := <-admitted:
		t.Fatalf("%s overtook the queue while big holds 9 of 10 MP", g.name)
	case <-time.After(20 * time.Millisecond):
	}
	big.release()
	// Both now fit and are admitted in one wake-up; which goroutine
	// reports first is up to the scheduler.
	g1, g2 := next(), next()
	if g1.name+g2.name != "smalltiny" && g1.name+g2.name != "tinysmall" {
		t.Errorf("then %s, %s; want small and tiny", g1.name, g2.name)
	}
	g1.release()
	g2.release()
}

func TestAdmissionOversizedRunsAlone(t *testing.T) {
	a := NewAdmission(10, 10, 5*time.Second)
	r1, _ := a.Acquire(context.Background(), 1)
	done := make(chan func())
	go func() {
		r, err := a.Acquire(context.Background(), 50)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	waitQueued(t, a, 1) // waits for the 1 MP request to finish
	r1()
	huge := <-done
	if mp, _ := a.InUse(); mp != 50 {
		t.Errorf("in use %d, want 50", mp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := a.Acquire(ctx, 1); StatusOf(err) != 503 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("beside an oversized request: %v; want to wait until ctx ends", err)
	}
	huge()
	huge() // idempotent
	if mp, q := a.InUse(); mp != 0 || q != 0 {
		t.Errorf("after release %d MP, %d waiting", mp, q)
	}
}

func TestAdmissionCanceled(t *testing.T) {
	a := NewAdmission(4, 4, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Acquire(ctx, 1); !errors.Is(err, context.Canceled) || StatusOf(err) != 503 {
		t.Errorf("canceled ctx: %v", err)
	}
}

func TestAdmissionFromConfig(t *testing.T) {
	c := DefaultConfig()
	c.BudgetMegapixels, c.MaxQueue, c.MaxWait = 3, 0, time.Second
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	a := p.NewAdmission()
	r, err := a.Acquire(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer r()
	if _, err := a.Acquire(context.Background(), 1); StatusOf(err) != 429 {
		t.Errorf("max_queue 0 over budget: %v, want 429", err)
	}
}
