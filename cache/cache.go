package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultMaxEntries is used when Options.MaxEntries is 0.
const DefaultMaxEntries = 4096

// ErrLoadPanicked is returned to callers waiting on a load that panicked;
// the panic itself propagates in the goroutine that ran the load.
var ErrLoadPanicked = errors.New("cache: load panicked")

// Options configures a [Cache]. The zero value is usable.
type Options struct {
	// MaxEntries bounds the number of entries; the least recently used
	// entry is evicted to make room. 0 means DefaultMaxEntries.
	MaxEntries int
	// Now returns the current time; nil means time.Now. Tests inject a
	// fake clock here.
	Now func() time.Time
}

// Stats are cumulative counters.
type Stats struct {
	Hits      uint64 // Get/GetOrLoad found a live entry
	Misses    uint64 // Get/GetOrLoad found nothing or an expired entry
	Loads     uint64 // load functions run by GetOrLoad
	Evictions uint64 // entries dropped to stay within MaxEntries
	Expired   uint64 // entries removed because they had expired
}

// Cache is an LRU cache with per-entry expiry. It is safe for concurrent
// use. Values are returned as stored: if V is a pointer, slice or map,
// callers share it and must not modify it.
type Cache[K comparable, V any] struct {
	lru *lru.Cache[K, entry[V]]
	now func() time.Time

	hits, misses, loads, evictions, expired atomic.Uint64

	mu      sync.Mutex
	flights map[K]*flight[V]
}

type entry[V any] struct {
	v   V
	exp int64 // UnixNano after which the entry is dead; 0 = never
}

type flight[V any] struct {
	done chan struct{}
	v    V
	err  error
	hit  bool // the flight found the value in the cache on its re-check
}

// New returns an empty cache.
func New[K comparable, V any](opts Options) (*Cache[K, V], error) {
	if opts.MaxEntries < 0 {
		return nil, fmt.Errorf("cache: MaxEntries %d is negative", opts.MaxEntries)
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l, err := lru.New[K, entry[V]](opts.MaxEntries)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return &Cache[K, V]{lru: l, now: opts.Now, flights: map[K]*flight[V]{}}, nil
}

// Get returns the live value for k. Expired entries are misses and are
// removed. A hit does not allocate.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	v, ok := c.lookup(k)
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return v, ok
}

// lookup is Get without hit/miss accounting.
func (c *Cache[K, V]) lookup(k K) (V, bool) {
	e, ok := c.lru.Get(k)
	if !ok {
		var zero V
		return zero, false
	}
	if e.exp != 0 && c.now().UnixNano() >= e.exp {
		c.removeIfExpired(k)
		var zero V
		return zero, false
	}
	return e.v, true
}

// removeIfExpired removes k unless a concurrent Set replaced it with a
// live entry since we looked.
func (c *Cache[K, V]) removeIfExpired(k K) {
	if e, ok := c.lru.Peek(k); ok && e.exp != 0 && c.now().UnixNano() >= e.exp {
		if c.lru.Remove(k) {
			c.expired.Add(1)
		}
	}
}

// Set stores v under k for ttl. ttl == 0 means the entry never expires; a
// negative ttl stores nothing and removes any existing entry.
func (c *Cache[K, V]) Set(k K, v V, ttl time.Duration) {
	if ttl < 0 {
		c.lru.Remove(k)
		return
	}
	var exp int64
	if ttl > 0 {
		exp = c.now().Add(ttl).UnixNano()
	}
	if c.lru.Add(k, entry[V]{v: v, exp: exp}) {
		c.evictions.Add(1)
	}
}

// GetOrLoad returns the cached value for k, or calls load and caches its
// result for the returned ttl (see [Cache.Set]). hit reports whether the
// value came from the cache without running load.
//
// Concurrent calls for the same missing key are coalesced: one runs load
// (with its own ctx) after re-checking the cache, the others wait for it
// or for their own ctx. Errors are returned to every waiter and are not
// cached. If the loading caller's ctx is cancelled, a waiter whose ctx is
// still live retries rather than inheriting that cancellation.
func (c *Cache[K, V]) GetOrLoad(ctx context.Context, k K, load func(ctx context.Context) (V, time.Duration, error)) (v V, hit bool, err error) {
	if v, ok := c.lookup(k); ok {
		c.hits.Add(1)
		return v, true, nil
	}
	c.misses.Add(1)
	for {
		c.mu.Lock()
		f, waiting := c.flights[k]
		if !waiting {
			f = &flight[V]{done: make(chan struct{})}
			c.flights[k] = f
		}
		c.mu.Unlock()

		if !waiting {
			c.fly(ctx, k, f, load)
			return f.v, f.hit, f.err
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			var zero V
			return zero, false, ctx.Err()
		}
		if f.err != nil && ctx.Err() == nil &&
			(errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) {
			continue // the leader's ctx ended, not ours: try again
		}
		return f.v, false, f.err
	}
}

// fly runs one flight: re-check the cache, else load and store.
func (c *Cache[K, V]) fly(ctx context.Context, k K, f *flight[V], load func(ctx context.Context) (V, time.Duration, error)) {
	finished := false
	defer func() {
		if !finished {
			f.err = ErrLoadPanicked
		}
		c.mu.Lock()
		delete(c.flights, k)
		c.mu.Unlock()
		close(f.done)
	}()
	// Re-check: another flight for k may have stored it between our miss
	// and registering this flight.
	if v, ok := c.lookup(k); ok {
		f.v, f.hit, finished = v, true, true
		return
	}
	c.loads.Add(1)
	v, ttl, err := load(ctx)
	if err == nil {
		c.Set(k, v, ttl)
		f.v = v
	}
	f.err, finished = err, true
}

// Len returns the number of entries, including expired ones not yet removed.
func (c *Cache[K, V]) Len() int { return c.lru.Len() }

// Stats returns the cumulative counters.
func (c *Cache[K, V]) Stats() Stats {
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Loads: c.loads.Load(),
		Evictions: c.evictions.Load(), Expired: c.expired.Load(),
	}
}
