package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgegate/edgegate/store"
)

// fakeHeads is object storage as the head cache sees it: a map of
// objects, a count of HEADs, and an optional gate that holds each HEAD
// until the test lets it go.
type fakeHeads struct {
	mu      sync.Mutex
	objects map[string]store.Meta // by bucket+"/"+key
	err     error
	asked   atomic.Int64
	gate    chan struct{} // when set, each HEAD waits for a value
}

func (f *fakeHeads) head(ctx context.Context, bucket, key string) (store.Meta, error) {
	f.asked.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return store.Meta{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return store.Meta{}, f.err
	}
	return f.objects[bucket+"/"+key], nil
}

func (f *fakeHeads) set(bucket, key string, m store.Meta, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m.Exists {
		f.objects[bucket+"/"+key] = m
	} else {
		delete(f.objects, bucket+"/"+key)
	}
	f.err = err
}

// manualClock is a clock the test moves by hand.
type manualClock struct{ ns atomic.Int64 }

func (c *manualClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *manualClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func newTestHeadCache(t *testing.T) (*headCache, *fakeHeads, *manualClock) {
	t.Helper()
	h, f, clk, _ := newTestHeadCacheWith(t, ExistsConfig{TTL: time.Minute, NegativeTTL: 10 * time.Second, MaxEntries: 100, NegativeMaxEntries: 20})
	return h, f, clk
}

// newTestHeadCacheWith is newTestHeadCache with cfg, also returning the
// count of stale answers served because S3 was failing.
func newTestHeadCacheWith(t *testing.T, cfg ExistsConfig) (*headCache, *fakeHeads, *manualClock, *atomic.Int64) {
	t.Helper()
	f := &fakeHeads{objects: map[string]store.Meta{}}
	clk := &manualClock{}
	clk.ns.Store(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).UnixNano())
	var counted, stale atomic.Int64
	h, err := newHeadCache(cfg, clk.Now, f.head, func() { counted.Add(1) }, func() { stale.Add(1) }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.wait()
		if counted.Load() != f.asked.Load() {
			t.Errorf("metric counted %d HEADs, storage saw %d", counted.Load(), f.asked.Load())
		}
	})
	return h, f, clk, &stale
}

func TestHeadCacheKeepsAnswersForTheirTTL(t *testing.T) {
	ctx := context.Background()
	h, f, clk := newTestHeadCache(t)
	f.set("b", "here.jpg", store.Meta{Exists: true, ETag: `"v1"`}, nil)

	tests := []struct {
		key     string
		exists  bool
		keepFor time.Duration // how long the answer is fresh
	}{
		{"here.jpg", true, time.Minute},
		{"missing.jpg", false, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			before := f.asked.Load()
			m, hit, err := h.get(ctx, "b", tt.key)
			if err != nil || hit || m.Exists != tt.exists {
				t.Fatalf("first get = %+v, hit %v, %v; want exists %v, a miss", m, hit, err, tt.exists)
			}
			clk.Advance(tt.keepFor - time.Second)
			m, hit, err = h.get(ctx, "b", tt.key)
			if err != nil || !hit || m.Exists != tt.exists {
				t.Fatalf("get within the TTL = %+v, hit %v, %v; want a hit", m, hit, err)
			}
			if n := f.asked.Load() - before; n != 1 {
				t.Fatalf("%d HEADs within the TTL, want 1", n)
			}
		})
	}
}

func TestHeadCacheServesStaleWhileOneRefreshRuns(t *testing.T) {
	h, f, clk := newTestHeadCache(t)
	f.set("b", "k", store.Meta{Exists: true, ETag: `"v1"`}, nil)
	if _, _, err := h.get(context.Background(), "b", "k"); err != nil {
		t.Fatal(err)
	}
	f.set("b", "k", store.Meta{Exists: true, ETag: `"v2"`}, nil)
	f.gate = make(chan struct{})
	clk.Advance(time.Minute + time.Second) // expired, within the stale allowance

	for range 50 {
		m, ok := h.cached("b", "k")
		if !ok || m.ETag != `"v1"` {
			t.Fatalf("cached during the refresh = %+v, %v; want the stale v1", m, ok)
		}
	}
	f.gate <- struct{}{} // exactly one refresh may be waiting: a second send would block
	h.wait()
	if n := f.asked.Load(); n != 2 {
		t.Fatalf("%d HEADs, want 2 (the load and one refresh)", n)
	}
	if m, ok := h.cached("b", "k"); !ok || m.ETag != `"v2"` {
		t.Fatalf("cached after the refresh = %+v, %v; want v2", m, ok)
	}
}

func TestHeadCacheFailedRefreshKeepsTheStaleAnswer(t *testing.T) {
	h, f, clk := newTestHeadCache(t)
	f.set("b", "k", store.Meta{Exists: true, ETag: `"v1"`}, nil)
	if _, _, err := h.get(context.Background(), "b", "k"); err != nil {
		t.Fatal(err)
	}
	f.set("b", "k", store.Meta{}, errors.New("s3 is down"))
	clk.Advance(time.Minute + time.Second)
	if m, ok := h.cached("b", "k"); !ok || m.ETag != `"v1"` {
		t.Fatalf("cached = %+v, %v; want the stale v1", m, ok)
	}
	h.wait()
	if m, ok := h.cached("b", "k"); !ok || m.ETag != `"v1"` {
		t.Fatalf("cached after a failed refresh = %+v, %v; want the stale v1", m, ok)
	}
	// Past the stale allowance (ttl again) the answer is not used.
	clk.Advance(time.Minute)
	h.wait()
	if m, ok := h.cached("b", "k"); ok {
		t.Fatalf("cached %+v past the stale allowance; want nothing", m)
	}
}

func TestHeadCacheCoalescesConcurrentMisses(t *testing.T) {
	h, f, _ := newTestHeadCache(t)
	f.set("b", "k", store.Meta{Exists: true, ETag: `"v1"`}, nil)
	f.gate = make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			m, _, err := h.get(context.Background(), "b", "k")
			if err == nil && m.ETag != `"v1"` {
				err = errors.New("wrong answer " + m.ETag)
			}
			errs <- err
		})
	}
	for f.asked.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(f.gate) // lets every HEAD through: only one should have been sent
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.asked.Load(); n != 1 {
		t.Fatalf("%d HEADs for 20 concurrent misses, want 1", n)
	}
}

func TestHeadCacheFetchReplacesTheCachedAnswer(t *testing.T) {
	ctx := context.Background()
	h, f, _ := newTestHeadCache(t)
	if m, _, _ := h.get(ctx, "b", "new.jpg"); m.Exists {
		t.Fatal("a missing object exists")
	}
	f.set("b", "new.jpg", store.Meta{Exists: true, ETag: `"up"`}, nil) // an upload
	if m, err := h.fetch(ctx, "b", "new.jpg"); err != nil || m.ETag != `"up"` {
		t.Fatalf("fetch = %+v, %v", m, err)
	}
	if m, hit, _ := h.get(ctx, "b", "new.jpg"); !hit || !m.Exists || m.ETag != `"up"` {
		t.Fatalf("get after fetch = %+v, hit %v; want the uploaded object from memory", m, hit)
	}
}

func TestHeadCacheClonesKeysThatAliasABuffer(t *testing.T) {
	ctx := context.Background()
	h, f, _ := newTestHeadCache(t)
	f.set("b", "photos/a.jpg", store.Meta{Exists: true, ETag: `"a"`}, nil)
	buf := []byte("photos/a.jpg")
	if _, _, err := h.get(ctx, "b", b2s(buf)); err != nil {
		t.Fatal(err)
	}
	copy(buf, "photos/z.jpg") // the request buffer is reused
	if m, ok := h.cached("b", "photos/a.jpg"); !ok || m.ETag != `"a"` {
		t.Fatalf("cached(photos/a.jpg) = %+v, %v after its buffer was reused", m, ok)
	}
}

func TestHeadCacheMissingKeysDoNotEvictHotObjects(t *testing.T) {
	ctx := context.Background()
	h, f, _ := newTestHeadCache(t) // room for 100 answers
	hot := make([]string, 50)
	for i := range hot {
		hot[i] = fmt.Sprintf("hot/%d.jpg", i)
		f.set("b", hot[i], store.Meta{Exists: true, ETag: `"h"`}, nil)
		if _, _, err := h.get(ctx, "b", hot[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5000 { // a flood of random keys that do not exist
		if m, _, err := h.get(ctx, "b", fmt.Sprintf("random/%d", i)); err != nil || m.Exists {
			t.Fatalf("random key: %+v, %v", m, err)
		}
	}
	for _, k := range hot {
		if m, ok := h.cached("b", k); !ok || !m.Exists {
			t.Fatalf("hot object %s was pushed out of the cache by missing keys", k)
		}
	}
	// The newest negative answers are still kept.
	if m, ok := h.cached("b", "random/4999"); !ok || m.Exists {
		t.Fatalf("cached(random/4999) = %+v, %v; want a cached negative answer", m, ok)
	}
}

func TestHeadCacheAnswerChangesSide(t *testing.T) {
	ctx := context.Background()
	h, f, _ := newTestHeadCache(t)
	if m, _, _ := h.get(ctx, "b", "k"); m.Exists {
		t.Fatal("a missing object exists")
	}
	f.set("b", "k", store.Meta{Exists: true, ETag: `"1"`}, nil)
	h.put("b", "k", store.Meta{Exists: true, ETag: `"1"`})
	if m, ok := h.cached("b", "k"); !ok || !m.Exists {
		t.Fatalf("after an upload cached = %+v, %v; want the object", m, ok)
	}
	f.set("b", "k", store.Meta{}, nil)
	h.put("b", "k", store.Meta{})
	if m, ok := h.cached("b", "k"); !ok || m.Exists {
		t.Fatalf("after a delete cached = %+v, %v; want not found", m, ok)
	}
}

// BenchmarkExistsCached: the event loops' existence check of a cached
// object (headCache.cached), fresh and past its ttl (stale while one
// refresh runs).
func BenchmarkExistsCached(b *testing.B) {
	for _, tc := range []struct {
		name string
		age  time.Duration
	}{{"fresh", 0}, {"stale", time.Minute + time.Second}} {
		b.Run(tc.name, func(b *testing.B) {
			f := &fakeHeads{objects: map[string]store.Meta{"b/k": {Exists: true, ETag: `"v1"`}}}
			clk := &manualClock{}
			h, err := newHeadCache(ExistsConfig{TTL: time.Minute, NegativeTTL: 10 * time.Second, MaxEntries: 100, NegativeMaxEntries: 20},
				clk.Now, f.head, func() {}, func() {}, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := h.get(context.Background(), "b", "k"); err != nil {
				b.Fatal(err)
			}
			f.gate = make(chan struct{}) // a refresh waits: the entry stays stale
			clk.Advance(tc.age)
			b.Cleanup(func() { close(f.gate); h.wait() })
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if m, ok := h.cached("b", "k"); !ok || !m.Exists {
						b.Fatal("not cached")
					}
				}
			})
		})
	}
}

// While S3 fails (the last HEAD was an error, not a 404), an answer past
// its stale-while-revalidate window is still served, up to
// exists.stale_if_error past its expiry, positive and negative alike, and
// refreshes keep being tried; once a HEAD succeeds the windows are the
// usual ones again.
func TestHeadCacheStaleIfError(t *testing.T) {
	ctx := context.Background()
	h, f, clk, stale := newTestHeadCacheWith(t, ExistsConfig{TTL: time.Minute, NegativeTTL: 10 * time.Second,
		MaxEntries: 100, NegativeMaxEntries: 20, StaleIfError: time.Hour})
	f.set("b", "here", store.Meta{Exists: true, ETag: `"v1"`}, nil)
	for _, k := range []string{"here", "gone"} {
		if _, _, err := h.get(ctx, "b", k); err != nil {
			t.Fatal(err)
		}
	}
	down := errors.New("s3 is down")
	f.set("b", "here", store.Meta{Exists: true, ETag: `"v1"`}, down)
	clk.Advance(3 * time.Minute) // past expiry and the stale-while-revalidate window (ttl)

	// Nothing has failed yet: the answer is too old for cached, and get
	// asks S3, which fails: the old answer, not the error, comes back.
	if m, ok := h.cached("b", "here"); ok {
		t.Fatalf("cached = %+v before any failure; want nothing (past the usual window)", m)
	}
	m, _, err := h.get(ctx, "b", "here")
	if err != nil || m.ETag != `"v1"` {
		t.Fatalf("get while S3 fails = %+v, %v; want the stale v1", m, err)
	}
	// Now S3 is known to fail: cached serves both answers from memory.
	for _, tc := range []struct {
		key    string
		exists bool
	}{{"here", true}, {"gone", false}} {
		m, ok := h.cached("b", tc.key)
		if !ok || m.Exists != tc.exists {
			t.Fatalf("cached(%s) while S3 fails = %+v, %v; want the stale answer (exists %v)", tc.key, m, ok, tc.exists)
		}
	}
	h.wait()
	asked := f.asked.Load()
	if m, ok := h.cached("b", "here"); !ok || m.ETag != `"v1"` {
		t.Fatalf("cached = %+v, %v; want v1", m, ok)
	}
	h.wait()
	if f.asked.Load() != asked+1 {
		t.Fatalf("%d HEADs for a stale answer served while S3 fails, want 1 refresh", f.asked.Load()-asked)
	}
	if n := stale.Load(); n < 3 {
		t.Fatalf("stale answers served counted %d, want at least 3", n)
	}
	// Past stale_if_error after expiry: not served, and get fails.
	clk.Advance(time.Hour)
	if m, ok := h.cached("b", "here"); ok {
		t.Fatalf("cached = %+v past stale_if_error; want nothing", m)
	}
	if _, _, err := h.get(ctx, "b", "here"); !errors.Is(err, down) {
		t.Fatalf("get past stale_if_error: %v, want the S3 error", err)
	}

	// S3 is back: one success ends the failing state.
	f.set("b", "here", store.Meta{Exists: true, ETag: `"v2"`}, nil)
	if m, _, err := h.get(ctx, "b", "here"); err != nil || m.ETag != `"v2"` {
		t.Fatalf("get after recovery = %+v, %v; want v2", m, err)
	}
	clk.Advance(3 * time.Minute)
	if m, ok := h.cached("b", "here"); ok {
		t.Fatalf("cached = %+v past the usual window with S3 healthy; want nothing", m)
	}
}

// stale_if_error 0 is off: a failing S3 does not widen the window.
func TestHeadCacheStaleIfErrorOff(t *testing.T) {
	ctx := context.Background()
	h, f, clk, stale := newTestHeadCacheWith(t, ExistsConfig{TTL: time.Minute, NegativeTTL: 10 * time.Second,
		MaxEntries: 100, NegativeMaxEntries: 20})
	f.set("b", "here", store.Meta{Exists: true, ETag: `"v1"`}, nil)
	if _, _, err := h.get(ctx, "b", "here"); err != nil {
		t.Fatal(err)
	}
	f.set("b", "here", store.Meta{Exists: true}, errors.New("s3 is down"))
	clk.Advance(3 * time.Minute)
	if _, _, err := h.get(ctx, "b", "here"); err == nil {
		t.Fatal("get succeeded past the window with stale_if_error off")
	}
	if m, ok := h.cached("b", "here"); ok {
		t.Fatalf("cached = %+v; want nothing", m)
	}
	if stale.Load() != 0 {
		t.Fatalf("%d stale answers counted with stale_if_error off", stale.Load())
	}
}
