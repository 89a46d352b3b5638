package cache

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock for expiry tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newCache[K comparable, V any](t testing.TB, opts Options) *Cache[K, V] {
	t.Helper()
	c, err := New[K, V](opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewOptions(t *testing.T) {
	if _, err := New[string, int](Options{MaxEntries: -1}); err == nil {
		t.Error("negative MaxEntries accepted")
	}
	// One shard: an exact LRU bound.
	c := newCache[string, int](t, Options{Shards: 1})
	for i := range DefaultMaxEntries + 10 {
		c.Set(string(rune(i)), i, NoExpiry)
	}
	if c.Len() != DefaultMaxEntries {
		t.Errorf("Len = %d, want default %d", c.Len(), DefaultMaxEntries)
	}
	// Default sharding (16 for this size): each shard holds its share, so
	// the total never exceeds the bound and stays close to it.
	c = newCache[string, int](t, Options{})
	for i := range 4 * DefaultMaxEntries {
		c.Set(string(rune(i)), i, NoExpiry)
	}
	if n := c.Len(); n > DefaultMaxEntries || n < DefaultMaxEntries*9/10 {
		t.Errorf("sharded Len = %d, want within [%d, %d]", n, DefaultMaxEntries*9/10, DefaultMaxEntries)
	}
	if _, err := New[string, int](Options{MaxBytes: 10}); err == nil {
		t.Error("MaxBytes without a size function accepted")
	}
}

func TestMaxBytes(t *testing.T) {
	size := func(_ string, v []byte) int64 { return int64(len(v)) }
	c, err := NewSized[string, []byte](Options{MaxEntries: 100, MaxBytes: 1000, Shards: 1}, size)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		c.Set(string(rune('a'+i)), make([]byte, 150), NoExpiry) // 1500 bytes offered
	}
	st := c.Stats()
	if st.Bytes > 1000 || st.Bytes != int64(st.Entries)*150 || st.Entries != 6 {
		t.Fatalf("bytes %d entries %d, want 6 entries of 150 = 900 ≤ 1000", st.Bytes, st.Entries)
	}
	if _, ok := c.Get("a"); ok {
		t.Error("the least recently used entry survived")
	}
	if _, ok := c.Get("j"); !ok {
		t.Error("the newest entry was evicted")
	}
	// Replacing an entry counts its size once.
	c.Set("j", make([]byte, 10), NoExpiry)
	if st := c.Stats(); st.Bytes != 5*150+10 {
		t.Fatalf("after replace: bytes %d, want %d", st.Bytes, 5*150+10)
	}
	// Larger than the whole budget: not stored, and the old value goes.
	c.Set("j", make([]byte, 2000), NoExpiry)
	if _, ok := c.Get("j"); ok {
		t.Error("an entry over the budget was stored")
	}
	if st := c.Stats(); st.Bytes != 5*150 {
		t.Fatalf("bytes %d, want %d", st.Bytes, 5*150)
	}
}

func TestMaxBytesConcurrent(t *testing.T) {
	size := func(_ int, v []byte) int64 { return int64(len(v)) }
	c, err := NewSized[int, []byte](Options{MaxEntries: 4096, MaxBytes: 64 << 10}, size)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := (g*7919 + i) % 3000
				c.Set(k, make([]byte, 100+k%400), NoExpiry)
				c.Get((k * 31) % 3000)
			}
		}()
	}
	wg.Wait()
	st := c.Stats()
	var sum int64
	for k := range 3000 {
		if v, ok := c.Get(k); ok {
			sum += int64(len(v))
		}
	}
	if st.Bytes != sum || st.Bytes > 64<<10 {
		t.Fatalf("accounted %d bytes, held %d, budget %d", st.Bytes, sum, 64<<10)
	}
}

func TestExpiry(t *testing.T) {
	clock := newFakeClock()
	c := newCache[string, string](t, Options{MaxEntries: 10, Now: clock.Now})
	c.Set("short", "a", time.Minute)
	c.Set("forever", "b", NoExpiry)
	c.Set("zero", "c", 0)
	c.Set("negative", "d", -time.Second)
	c.Set("replaced", "e", time.Hour)
	c.Set("replaced", "f", 0) // a lifetime already up removes the old value too

	tests := []struct {
		name    string
		advance time.Duration
		key     string
		want    string
		hit     bool
	}{
		{"live before ttl", 0, "short", "a", true},
		{"live just before ttl", time.Minute - time.Nanosecond, "short", "a", true},
		{"dead at ttl", time.Nanosecond, "short", "", false},
		{"ttl 0 stores nothing", 0, "zero", "", false},
		{"negative ttl stores nothing", 0, "negative", "", false},
		{"ttl 0 removes the entry it replaces", 0, "replaced", "", false},
		{"NoExpiry survives a day", 24 * time.Hour, "forever", "b", true},
		{"NoExpiry survives a century", 100 * 365 * 24 * time.Hour, "forever", "b", true},
	}
	for _, tt := range tests {
		clock.Advance(tt.advance)
		got, ok := c.Get(tt.key)
		if got != tt.want || ok != tt.hit {
			t.Errorf("%s: Get(%q) = %q, %v; want %q, %v", tt.name, tt.key, got, ok, tt.want, tt.hit)
		}
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d after expiry; expired entries should be removed", c.Len())
	}
	st := c.Stats()
	if st.Hits != 4 || st.Misses != 4 || st.Expired != 1 {
		t.Errorf("Stats = %+v", st)
	}
	// Re-setting an expired key revives it.
	c.Set("short", "again", time.Minute)
	if v, ok := c.Get("short"); !ok || v != "again" {
		t.Errorf("Get after re-Set = %q, %v", v, ok)
	}
}

// A loader's ttl follows Set: 0 (a lifetime computed to be already up)
// hands the value to the caller but caches nothing, so the next call loads
// again; NoExpiry caches for good.
func TestGetOrLoadTTL(t *testing.T) {
	for _, tt := range []struct {
		name      string
		ttl       time.Duration
		wantLoads int
	}{
		{"zero caches nothing", 0, 3},
		{"negative caches nothing", -time.Nanosecond, 3},
		{"NoExpiry caches for good", NoExpiry, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			c := newCache[string, int](t, Options{MaxEntries: 10, Now: clock.Now})
			loads := 0
			load := func(context.Context) (int, time.Duration, error) {
				loads++
				return 7, tt.ttl, nil
			}
			for i := range 3 {
				v, hit, err := c.GetOrLoad(context.Background(), "k", load)
				if err != nil || v != 7 || hit != (i >= tt.wantLoads) {
					t.Errorf("call %d: %d, hit=%v, %v; want 7, hit=%v", i, v, hit, err, i >= tt.wantLoads)
				}
				clock.Advance(50 * 365 * 24 * time.Hour)
			}
			if loads != tt.wantLoads {
				t.Errorf("load ran %d times, want %d", loads, tt.wantLoads)
			}
		})
	}
}

func TestLRUEviction(t *testing.T) {
	c := newCache[int, int](t, Options{MaxEntries: 3})
	c.Set(1, 1, NoExpiry)
	c.Set(2, 2, NoExpiry)
	c.Set(3, 3, NoExpiry)
	c.Get(1)              // 1 is now most recently used; 2 is the oldest
	c.Set(4, 4, NoExpiry) // evicts 2
	for k, want := range map[int]bool{1: true, 2: false, 3: true, 4: true} {
		if _, ok := c.Get(k); ok != want {
			t.Errorf("Get(%d) hit = %v, want %v", k, ok, want)
		}
	}
	if st := c.Stats(); st.Evictions != 1 {
		t.Errorf("Evictions = %d, want 1", st.Evictions)
	}
	c.Set(3, 33, NoExpiry) // replacing is not an eviction
	if st := c.Stats(); st.Evictions != 1 || c.Len() != 3 {
		t.Errorf("after replace: Evictions = %d, Len = %d", st.Evictions, c.Len())
	}
}

func TestGetOrLoadCoalesces(t *testing.T) {
	c := newCache[string, int](t, Options{MaxEntries: 10})
	const n = 64
	var calls atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (int, time.Duration, error) {
		calls.Add(1)
		<-release
		return 42, time.Minute, nil
	}
	var wg sync.WaitGroup
	var started sync.WaitGroup
	started.Add(n)
	results := make(chan int, n)
	for range n {
		wg.Go(func() {
			started.Done()
			v, _, err := c.GetOrLoad(context.Background(), "k", load)
			if err != nil {
				t.Error(err)
			}
			results <- v
		})
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond) // let the callers pile onto the flight
	close(release)
	wg.Wait()
	close(results)
	for v := range results {
		if v != 42 {
			t.Errorf("got %d", v)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("load ran %d times, want 1", calls.Load())
	}
	if v, hit, _ := c.GetOrLoad(context.Background(), "k", load); !hit || v != 42 {
		t.Errorf("after load: %d, hit=%v", v, hit)
	}
	if st := c.Stats(); st.Loads != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestGetOrLoadRechecksInFlight: a value stored between a caller's miss and
// its flight is found by the flight, and load does not run.
func TestGetOrLoadRechecksInFlight(t *testing.T) {
	clock := newFakeClock()
	c := newCache[string, string](t, Options{MaxEntries: 10, Now: clock.Now})
	c.Set("k", "stale", time.Nanosecond)
	clock.Advance(time.Second) // "stale" is expired: GetOrLoad's first lookup misses
	// Simulate the race deterministically: while the first lookup checks the
	// stale entry's expiry, another writer stores a fresh value.
	fired := false
	c.now = func() time.Time {
		if !fired {
			fired = true
			c.Set("k", "stored-by-other", NoExpiry) // NoExpiry does not read the clock
		}
		return clock.Now()
	}
	v, hit, err := c.GetOrLoad(context.Background(), "k", func(context.Context) (string, time.Duration, error) {
		t.Error("load ran although the flight's re-check should have hit")
		return "loaded", time.Minute, nil
	})
	if err != nil || v != "stored-by-other" || !hit {
		t.Errorf("GetOrLoad = %q, %v, %v", v, hit, err)
	}
	if st := c.Stats(); st.Loads != 0 {
		t.Errorf("Loads = %d", st.Loads)
	}
}

func TestGetOrLoadErrorsNotCached(t *testing.T) {
	c := newCache[string, int](t, Options{MaxEntries: 10})
	boom := errors.New("boom")
	calls := 0
	load := func(context.Context) (int, time.Duration, error) {
		calls++
		if calls == 1 {
			return 0, time.Minute, boom
		}
		return 7, time.Minute, nil
	}
	if _, _, err := c.GetOrLoad(context.Background(), "k", load); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if v, hit, err := c.GetOrLoad(context.Background(), "k", load); err != nil || v != 7 || hit {
		t.Errorf("second call = %d, %v, %v", v, hit, err)
	}
}

func TestGetOrLoadWaiterContext(t *testing.T) {
	c := newCache[string, int](t, Options{MaxEntries: 10})
	loading, release := make(chan struct{}), make(chan struct{})
	go c.GetOrLoad(context.Background(), "k", func(context.Context) (int, time.Duration, error) {
		close(loading)
		<-release
		return 1, time.Minute, nil
	})
	<-loading // the leader's flight is registered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, _, err := c.GetOrLoad(ctx, "k", func(context.Context) (int, time.Duration, error) {
		t.Error("waiter ran its own load")
		return 0, 0, nil
	}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter err = %v", err)
	}
	close(release)
}

func TestGetOrLoadLeaderCancelledWaiterRetries(t *testing.T) {
	c := newCache[string, int](t, Options{MaxEntries: 10})
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	inLoad := make(chan struct{})
	leaderDone := make(chan struct{})
	go func() {
		defer close(leaderDone)
		c.GetOrLoad(leaderCtx, "k", func(ctx context.Context) (int, time.Duration, error) {
			close(inLoad)
			<-ctx.Done()
			return 0, 0, ctx.Err()
		})
	}()
	<-inLoad
	waiter := make(chan int)
	go func() {
		v, _, err := c.GetOrLoad(context.Background(), "k", func(context.Context) (int, time.Duration, error) {
			return 9, time.Minute, nil
		})
		if err != nil {
			t.Error(err)
		}
		waiter <- v
	}()
	time.Sleep(10 * time.Millisecond)
	cancelLeader()
	<-leaderDone
	if v := <-waiter; v != 9 {
		t.Errorf("waiter got %d, want its own retry's 9", v)
	}
}

func TestGetOrLoadPanic(t *testing.T) {
	c := newCache[string, int](t, Options{MaxEntries: 10})
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic was swallowed")
			}
		}()
		c.GetOrLoad(context.Background(), "k", func(context.Context) (int, time.Duration, error) { panic("x") })
	}()
	// The flight was cleaned up: a new call loads normally.
	if v, _, err := c.GetOrLoad(context.Background(), "k", func(context.Context) (int, time.Duration, error) {
		return 3, time.Minute, nil
	}); err != nil || v != 3 {
		t.Errorf("after panic: %d, %v", v, err)
	}
}

func TestConcurrentMixed(t *testing.T) {
	c := newCache[int, int](t, Options{MaxEntries: 50})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := (i * (g + 1)) % 100
				switch i % 3 {
				case 0:
					c.Set(k, k, time.Millisecond*time.Duration(i%5))
				case 1:
					if v, ok := c.Get(k); ok && v != k {
						t.Errorf("Get(%d) = %d", k, v)
					}
				default:
					v, _, err := c.GetOrLoad(context.Background(), k, func(context.Context) (int, time.Duration, error) {
						return k, time.Millisecond, nil
					})
					if err != nil || v != k {
						t.Errorf("GetOrLoad(%d) = %d, %v", k, v, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 50 {
		t.Errorf("Len = %d > MaxEntries", c.Len())
	}
}

func TestGetHitAllocs(t *testing.T) {
	c := newCache[string, []byte](t, Options{MaxEntries: 10})
	c.Set("k", []byte("v"), time.Hour)
	if a := testing.AllocsPerRun(1000, func() { c.Get("k") }); a != 0 {
		t.Errorf("Get hit: %v allocs, want 0", a)
	}
	if a := testing.AllocsPerRun(1000, func() {
		c.GetOrLoad(context.Background(), "k", nil)
	}); a != 0 {
		t.Errorf("GetOrLoad hit: %v allocs, want 0", a)
	}
}

func BenchmarkCacheGetHit(b *testing.B) {
	c := newCache[string, []byte](b, Options{MaxEntries: 1024})
	c.Set("presign:edge-demo/egypt/cairo/maps/metro.png", []byte("https://example"), time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		c.Get("presign:edge-demo/egypt/cairo/maps/metro.png")
	}
}

func BenchmarkCacheGetHitParallel(b *testing.B) {
	c := newCache[string, []byte](b, Options{MaxEntries: 1024})
	c.Set("k", []byte("v"), time.Hour)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Get("k")
		}
	})
}

func BenchmarkCacheGetOrLoadMiss(b *testing.B) {
	c := newCache[int, int](b, Options{MaxEntries: 1024})
	load := func(context.Context) (int, time.Duration, error) { return 1, time.Hour, nil }
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		c.GetOrLoad(context.Background(), i, load)
	}
}

// GetStale hands out an expired entry for up to maxStale after its expiry,
// marked not fresh, and nothing after that.
func TestGetStale(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newCache[string, int](t, Options{Now: func() time.Time { return now }})
	c.Set("k", 1, time.Second)
	for _, tc := range []struct {
		at           time.Duration
		fresh, found bool
	}{
		{0, true, true},
		{999 * time.Millisecond, true, true},
		{time.Second, false, true},     // just expired: stale
		{3 * time.Second, false, true}, // 2s past expiry: still within maxStale
		{3*time.Second + time.Millisecond, false, false},
	} {
		now = time.Unix(1000, 0).Add(tc.at)
		v, fresh, ok := c.GetStale("k", 2*time.Second)
		if ok != tc.found || fresh != tc.fresh || (ok && v != 1) {
			t.Errorf("at +%v: v=%d fresh=%v ok=%v, want fresh=%v ok=%v", tc.at, v, fresh, ok, tc.fresh, tc.found)
		}
	}
	if _, _, ok := c.GetStale("absent", time.Hour); ok {
		t.Error("found an absent key")
	}
	c.Set("k", 2, time.Second) // a refresh replaces the stale entry
	if v, fresh, ok := c.GetStale("k", 0); !ok || !fresh || v != 2 {
		t.Errorf("after Set: v=%d fresh=%v ok=%v", v, fresh, ok)
	}
}

// A Get that finds an expired entry removes it, but must not remove a
// fresh value that a concurrent Set stored after the Get looked.
func TestExpiredRemovalKeepsReplacement(t *testing.T) {
	clock := newFakeClock()
	c := newCache[string, string](t, Options{MaxEntries: 10, Now: clock.Now})
	c.Set("k", "old", time.Minute)
	clock.Advance(time.Hour)
	replaced := false
	c.beforeRemove = func() {
		if !replaced {
			replaced = true
			c.Set("k", "new", time.Hour) // the concurrent Set, made deterministic
		}
	}
	if v, ok := c.Get("k"); ok {
		t.Errorf("Get of the expired entry = %q, want a miss", v)
	}
	if !replaced {
		t.Fatal("the hook never ran: the test no longer reaches the removal")
	}
	if v, ok := c.Get("k"); !ok || v != "new" {
		t.Errorf("Get after the replacing Set = %q, %v; want %q, true", v, ok, "new")
	}
	if st := c.Stats(); st.Expired != 0 {
		t.Errorf("Expired = %d, want 0: only the replacement was there to remove", st.Expired)
	}
}

// The same race without a hook: readers remove expired entries while a
// writer replaces them with fresh ones, and the writer must always find
// its fresh value. The clock yields, to widen any window between a
// reader's look and its removal. Run under -race.
func TestExpiredRemovalRace(t *testing.T) {
	var now atomic.Int64 // writer-controlled clock, in ns
	clock := func() time.Time {
		runtime.Gosched()
		return time.Unix(0, now.Load())
	}
	c := newCache[int, int](t, Options{MaxEntries: 10, Now: clock})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					c.Get(1)
				}
			}
		})
	}
	lost := 0
	for i := range 10000 {
		now.Store(0)
		c.Set(1, -1, time.Nanosecond) // expires at 1
		now.Store(2)                  // the readers now see it expired
		c.Set(1, i, time.Hour)
		if v, ok := c.Get(1); !ok || v != i {
			lost++
		}
	}
	close(stop)
	wg.Wait()
	if lost > 0 {
		t.Errorf("%d of 10000 fresh values were removed as expired", lost)
	}
}
