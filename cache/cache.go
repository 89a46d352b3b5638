package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultMaxEntries is used when Options.MaxEntries is 0.
const DefaultMaxEntries = 4096

// NoExpiry is the ttl of an entry that never expires.
const NoExpiry time.Duration = math.MaxInt64

// ErrLoadPanicked is returned to callers waiting on a load that panicked;
// the panic itself propagates in the goroutine that ran the load.
var ErrLoadPanicked = errors.New("cache: load panicked")

// Options configures a [Cache]. The zero value is usable.
type Options struct {
	// MaxEntries bounds the number of entries; the least recently used
	// entry is evicted to make room. 0 means DefaultMaxEntries.
	MaxEntries int
	// MaxBytes, when positive, also bounds the sum of the entries' sizes
	// as reported by the size function given to NewSized: least recently
	// used entries are evicted until the new total fits. An entry larger
	// than a shard's share of the budget is not stored. 0: no byte bound.
	MaxBytes int64
	// Shards splits the cache into independently locked LRUs, chosen by
	// key hash, so that concurrent Gets on several cores do not contend on
	// one lock. Recency (and so eviction order) is then per shard. 0 means
	// 16 when MaxEntries ≥ 1024, else 1 (an exact LRU).
	Shards int
	// Now returns the current time; nil means time.Now. Tests inject a
	// fake clock here.
	Now func() time.Time
}

// Stats are cumulative counters.
type Stats struct {
	Hits      uint64 // Get/GetOrLoad found a live entry
	Misses    uint64 // Get/GetOrLoad found nothing or an expired entry
	Loads     uint64 // load functions run by GetOrLoad
	Evictions uint64 // entries dropped to stay within MaxEntries or MaxBytes
	Expired   uint64 // entries removed because they had expired
	Entries   int    // entries held now (expired ones not yet removed included)
	Bytes     int64  // sum of the held entries' sizes (with MaxBytes)
}

// Cache is an LRU cache with per-entry expiry. It is safe for concurrent
// use. Values are returned as stored: if V is a pointer, slice or map,
// callers share it and must not modify it.
type Cache[K comparable, V any] struct {
	shards   []shard[K, V]
	seed     maphash.Seed
	now      func() time.Time
	size     func(K, V) int64
	maxBytes int64 // per shard; 0 = unbounded

	loads atomic.Uint64

	mu      sync.Mutex
	flights map[K]*flight[V]

	// beforeRemove, when set (by tests), runs between a lookup seeing an
	// expired entry and removeIfExpired locking to remove it: a test Sets
	// there to race the removal deterministically.
	beforeRemove func()
}

// shard is one independently locked LRU with its own counters, padded so
// that two shards' hot counters do not share a cache line.
type shard[K comparable, V any] struct {
	lru                              *lru.Cache[K, entry[V]]
	hits, misses, evictions, expired atomic.Uint64
	bytes                            atomic.Int64
	// setMu serialises changes (Set, removing an expired entry), so that
	// byte accounting is exact and a check-then-remove is one step.
	setMu sync.Mutex
	_     [64]byte
}

type entry[V any] struct {
	v    V
	exp  int64 // UnixNano after which the entry is dead; 0 = never
	size int64
}

type flight[V any] struct {
	done chan struct{}
	v    V
	err  error
	hit  bool // the flight found the value in the cache on its re-check
}

// New returns an empty cache.
func New[K comparable, V any](opts Options) (*Cache[K, V], error) {
	return NewSized[K, V](opts, nil)
}

// NewSized returns an empty cache whose entries' sizes, as reported by
// size, are bounded by opts.MaxBytes in total (sum of value sizes, not a
// count).
func NewSized[K comparable, V any](opts Options, size func(K, V) int64) (*Cache[K, V], error) {
	if opts.MaxEntries < 0 {
		return nil, fmt.Errorf("cache: MaxEntries %d is negative", opts.MaxEntries)
	}
	if opts.MaxBytes < 0 || opts.Shards < 0 {
		return nil, fmt.Errorf("cache: MaxBytes %d and Shards %d must not be negative", opts.MaxBytes, opts.Shards)
	}
	if opts.MaxBytes > 0 && size == nil {
		return nil, errors.New("cache: MaxBytes needs a size function (NewSized)")
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Shards == 0 {
		opts.Shards = 1
		if opts.MaxEntries >= 1024 {
			opts.Shards = 16
		}
	}
	if opts.Shards > opts.MaxEntries {
		opts.Shards = opts.MaxEntries
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Cache[K, V]{
		shards: make([]shard[K, V], opts.Shards), seed: maphash.MakeSeed(),
		now: opts.Now, size: size, flights: map[K]*flight[V]{},
	}
	if opts.MaxBytes > 0 {
		c.maxBytes = max(1, opts.MaxBytes/int64(opts.Shards))
	}
	per := (opts.MaxEntries + opts.Shards - 1) / opts.Shards
	for i := range c.shards {
		sh := &c.shards[i]
		l, err := lru.NewWithEvict[K, entry[V]](per, func(_ K, e entry[V]) { sh.bytes.Add(-e.size) })
		if err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
		sh.lru = l
	}
	return c, nil
}

func (c *Cache[K, V]) shard(k K) *shard[K, V] {
	if len(c.shards) == 1 {
		return &c.shards[0]
	}
	return &c.shards[maphash.Comparable(c.seed, k)%uint64(len(c.shards))]
}

// Get returns the live value for k. Expired entries are misses and are
// removed. A hit does not allocate.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	sh := c.shard(k)
	v, ok := c.lookup(sh, k)
	if ok {
		sh.hits.Add(1)
	} else {
		sh.misses.Add(1)
	}
	return v, ok
}

// GetStale is Get that also returns an entry whose time is up, as long
// as it expired no more than maxStale ago, for serving stale while the
// caller refreshes it (stale-while-revalidate). fresh is false for such an
// entry; it is left in place (a Set replaces it). It counts a hit for a
// fresh entry and a miss otherwise, and does not allocate.
func (c *Cache[K, V]) GetStale(k K, maxStale time.Duration) (v V, fresh, ok bool) {
	sh := c.shard(k)
	e, ok := sh.lru.Get(k)
	if !ok {
		sh.misses.Add(1)
		return v, false, false
	}
	if e.exp == 0 {
		sh.hits.Add(1)
		return e.v, true, true
	}
	now := c.now().UnixNano()
	switch {
	case now < e.exp:
		sh.hits.Add(1)
		return e.v, true, true
	case now-e.exp <= int64(maxStale):
		sh.misses.Add(1)
		return e.v, false, true
	}
	sh.misses.Add(1)
	return v, false, false
}

// lookup is Get without hit/miss accounting.
func (c *Cache[K, V]) lookup(sh *shard[K, V], k K) (V, bool) {
	e, ok := sh.lru.Get(k)
	if !ok {
		var zero V
		return zero, false
	}
	if e.exp != 0 {
		if now := c.now().UnixNano(); now >= e.exp {
			c.removeIfExpired(sh, k, now)
			var zero V
			return zero, false
		}
	}
	return e.v, true
}

// removeIfExpired removes k, which was seen expired at now, unless a
// concurrent Set has replaced it with a live entry since. The check and
// the removal are one step under setMu, which every Set holds: a Set
// between them would otherwise have its fresh entry removed.
func (c *Cache[K, V]) removeIfExpired(sh *shard[K, V], k K, now int64) {
	if c.beforeRemove != nil {
		c.beforeRemove()
	}
	sh.setMu.Lock()
	defer sh.setMu.Unlock()
	if e, ok := sh.lru.Peek(k); ok && e.exp != 0 && now >= e.exp {
		if sh.lru.Remove(k) {
			sh.expired.Add(1)
		}
	}
}

// Set stores v under k for ttl, or for good if ttl is [NoExpiry]. A ttl
// of 0 or less, a lifetime that is already up, stores nothing and removes
// any existing entry: a computed ttl that comes out 0 is not "forever".
func (c *Cache[K, V]) Set(k K, v V, ttl time.Duration) {
	sh := c.shard(k)
	sh.setMu.Lock()
	defer sh.setMu.Unlock()
	if ttl <= 0 {
		sh.lru.Remove(k)
		return
	}
	var exp int64 // 0: never
	if ttl != NoExpiry {
		now := c.now().UnixNano()
		if exp = now + int64(ttl); exp < now {
			exp = 0 // past the year 2262, as good as never
		}
	}
	e := entry[V]{v: v, exp: exp}
	if c.maxBytes > 0 {
		e.size = c.size(k, v)
		if e.size > c.maxBytes {
			sh.lru.Remove(k) // too large to keep; drop any older value
			return
		}
	}
	sh.lru.Remove(k) // so that a replaced entry's size is subtracted once
	sh.bytes.Add(e.size)
	if sh.lru.Add(k, e) {
		sh.evictions.Add(1)
	}
	for c.maxBytes > 0 && sh.bytes.Load() > c.maxBytes {
		if _, _, ok := sh.lru.RemoveOldest(); !ok {
			break
		}
		sh.evictions.Add(1)
	}
}

// GetOrLoad returns the cached value for k, or calls load and caches its
// result for the returned ttl as [Cache.Set] does: [NoExpiry] keeps it for
// good, 0 or less returns the value without caching it (the next call
// loads again). hit reports whether the value came from the cache without
// running load.
//
// Concurrent calls for the same missing key are coalesced: one runs load
// (with its own ctx) after re-checking the cache, the others wait for it
// or for their own ctx. Errors are returned to every waiter and are not
// cached. If the loading caller's ctx is cancelled, a waiter whose ctx is
// still live retries rather than inheriting that cancellation.
func (c *Cache[K, V]) GetOrLoad(ctx context.Context, k K, load func(ctx context.Context) (V, time.Duration, error)) (v V, hit bool, err error) {
	sh := c.shard(k)
	if v, ok := c.lookup(sh, k); ok {
		sh.hits.Add(1)
		return v, true, nil
	}
	sh.misses.Add(1)
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
	if v, ok := c.lookup(c.shard(k), k); ok {
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
func (c *Cache[K, V]) Len() int {
	n := 0
	for i := range c.shards {
		n += c.shards[i].lru.Len()
	}
	return n
}

// Stats returns the cumulative counters, summed over the shards.
func (c *Cache[K, V]) Stats() Stats {
	st := Stats{Loads: c.loads.Load()}
	for i := range c.shards {
		sh := &c.shards[i]
		st.Hits += sh.hits.Load()
		st.Misses += sh.misses.Load()
		st.Evictions += sh.evictions.Load()
		st.Expired += sh.expired.Load()
		st.Entries += sh.lru.Len()
		st.Bytes += sh.bytes.Load()
	}
	return st
}
