package gateway

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgegate/edgegate/cache"
	"go.opentelemetry.io/otel/trace"

	"github.com/edgegate/edgegate/store"
	"github.com/edgegate/edgegate/telemetry"
)

// existKey names one object for the existence cache.
type existKey struct{ bucket, key string }

// headFunc asks object storage about one object (store.Store.Head).
type headFunc func(ctx context.Context, bucket, key string) (store.Meta, error)

// headCache is the existence cache behind `fallback: exists` and the
// image path's source metadata: S3 HEAD answers (exists, ETag, type),
// positive for exists.ttl and negative for exists.negative_ttl, with
// concurrent misses of one object coalesced into one HEAD.
//
// Positive and negative answers live in two LRUs (exists.max_entries and
// exists.negative_max_entries): a flood of keys that do not exist, which
// anyone can send, evicts only other negative answers, never the hot set
// of objects that do.
//
// An answer whose time is up is still used, for up to exists.ttl more,
// while one background HEAD refreshes it (stale-while-revalidate): a hot
// key never makes requests wait on S3 when its entry expires. While S3
// fails (the last HEAD this cache sent was an error, not a 404) that
// window widens to exists.stale_if_error, and a HEAD that fails with an
// older answer still held returns that answer instead of the error: users
// keep their answers through an S3 outage, refreshes keep being tried,
// and the first success restores the usual windows. Keys may alias request
// buffers: they are cloned before the cache keeps them.
//
// It is safe for concurrent use.
type headCache struct {
	// The LRUs keep each answer until its window while S3 fails has
	// passed; headEntry.fresh says how long it is fresh.
	entries     *cache.Cache[existKey, headEntry] // objects that exist
	missing     *cache.Cache[existKey, headEntry] // objects that do not
	flights     *cache.Cache[existKey, headEntry] // coalesces HEADs; stores nothing
	ttl, negTTL time.Duration
	swr         int64         // stale-while-revalidate window past expiry (ttl), ns
	sie         int64         // the window while S3 fails: max(swr, stale_if_error), ns
	keep        time.Duration // how long an answer is held past expiry (sie)
	now         func() time.Time
	ask         headFunc
	asked       func() // counts each HEAD sent (a metric)
	staleServed func() // counts answers served past swr because S3 fails (a metric)
	log         *slog.Logger

	failingSince atomic.Int64   // UnixNano of the first failed HEAD since the last success; 0: healthy
	refreshing   sync.Map       // existKey → struct{}: background refreshes running
	bg           sync.WaitGroup // background refreshes, for shutdown
}

// headEntry is one cached answer and the time until which it is fresh.
type headEntry struct {
	m     store.Meta
	fresh int64 // UnixNano
}

// newHeadCache builds the cache from cfg (validated: TTLs and size > 0,
// stale_if_error ≥ 0).
func newHeadCache(cfg ExistsConfig, now func() time.Time, ask headFunc, asked, staleServed func(), log *slog.Logger) (*headCache, error) {
	c, err := cache.New[existKey, headEntry](cache.Options{MaxEntries: cfg.MaxEntries, Now: now})
	if err != nil {
		return nil, err
	}
	neg, err := cache.New[existKey, headEntry](cache.Options{MaxEntries: cfg.NegativeMaxEntries, Now: now})
	if err != nil {
		return nil, err
	}
	flights, err := cache.New[existKey, headEntry](cache.Options{MaxEntries: 1, Now: now})
	if err != nil {
		return nil, err
	}
	keep := max(cfg.TTL, cfg.StaleIfError)
	return &headCache{entries: c, missing: neg, flights: flights, ttl: cfg.TTL, negTTL: cfg.NegativeTTL,
		swr: int64(cfg.TTL), sie: int64(keep), keep: keep, now: now,
		ask: ask, asked: asked, staleServed: staleServed, log: log}, nil
}

// get returns an object's metadata from the cache, or from one coalesced
// HEAD whose answer is cached. hit reports that no HEAD was waited for.
// When the HEAD fails and an answer within stale_if_error is held, that
// answer is returned instead of the error.
func (h *headCache) get(ctx context.Context, bucket, key string) (m store.Meta, hit bool, err error) {
	if m, ok := h.cached(bucket, key); ok {
		return m, true, nil
	}
	k := existKey{bucket, strings.Clone(key)}
	// The flight stores nothing (ttl 0): the answer goes to entries or
	// missing, which keep it past its expiry for stale use.
	e, _, err := h.flights.GetOrLoad(ctx, k, func(ctx context.Context) (headEntry, time.Duration, error) {
		if e, age, ok := h.held(k); ok && age < 0 { // cached while this flight waited to start
			return e, 0, nil
		}
		m, err := h.load(ctx, k.bucket, k.key)
		if err != nil {
			if e, age, ok := h.held(k); ok && age <= h.sie && h.failingSince.Load() != 0 {
				h.staleServed()
				return e, 0, nil
			}
			return headEntry{}, 0, err
		}
		h.putKey(k, m)
		return headEntry{m: m}, 0, nil
	})
	return e.m, false, err
}

// held returns the answer held for k, positive or negative, and how long
// ago it stopped being fresh (negative: it is fresh).
func (h *headCache) held(k existKey) (e headEntry, age int64, ok bool) {
	e, ok = h.entries.Get(k)
	if !ok {
		if e, ok = h.missing.Get(k); !ok {
			return e, 0, false
		}
	}
	return e, h.now().UnixNano() - e.fresh, true
}

// cached is get from memory only, as the event loops need it: ok is false
// when nothing usable is cached. A stale answer starts its refresh.
func (h *headCache) cached(bucket, key string) (store.Meta, bool) {
	k := existKey{bucket, key}
	e, age, ok := h.held(k)
	if !ok {
		return store.Meta{}, false
	}
	if age < 0 {
		return e.m, true
	}
	if age > h.swr {
		if age > h.sie || h.failingSince.Load() == 0 {
			return store.Meta{}, false
		}
		h.staleServed()
	}
	h.refresh(bucket, key)
	return e.m, true
}

// fetch asks S3 now, whatever is cached, and caches the answer: for
// callers that know the object just changed (an upload event).
func (h *headCache) fetch(ctx context.Context, bucket, key string) (store.Meta, error) {
	m, err := h.load(ctx, bucket, key)
	if err != nil {
		return m, err
	}
	h.put(bucket, key, m)
	return m, nil
}

// put caches what S3 just said of an object, for as long as a HEAD
// answer is kept: from fetch, or from a GET that met a newer version
// than the cached one.
func (h *headCache) put(bucket, key string, m store.Meta) {
	h.putKey(existKey{bucket, strings.Clone(key)}, m)
}

// putKey is put for a key that does not alias a request buffer. The
// answer is fresh for its ttl and held for h.keep more.
func (h *headCache) putKey(k existKey, m store.Meta) {
	now := h.now().UnixNano()
	if m.Exists {
		h.missing.Set(k, headEntry{}, 0) // 0: drop
		h.entries.Set(k, headEntry{m: m, fresh: now + int64(h.ttl)}, h.ttl+h.keep)
		return
	}
	h.entries.Set(k, headEntry{}, 0)
	h.missing.Set(k, headEntry{m: m, fresh: now + int64(h.negTTL)}, h.negTTL+h.keep)
}

// refresh re-asks S3 about a stale entry in the background, once per key
// at a time. On failure the stale answer stays until it is too old.
func (h *headCache) refresh(bucket, key string) {
	if _, busy := h.refreshing.Load(existKey{bucket, key}); busy {
		return // the common case while S3 is down: no copy of the key
	}
	k := existKey{bucket, strings.Clone(key)}
	if _, busy := h.refreshing.LoadOrStore(k, struct{}{}); busy {
		return
	}
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		defer h.refreshing.Delete(k)
		// Not a request's context: the refresh outlives the request that
		// started it. Store calls carry their own timeouts.
		if _, err := h.fetch(context.Background(), k.bucket, k.key); err != nil {
			h.log.Warn("existence refresh failed; the last answer stays for now", "bucket", k.bucket, "key", k.key, "err", err)
		}
	}()
}

// load asks S3, counting the HEAD, and keeps track of whether S3 is
// failing: any error but the caller's own cancellation starts a failing
// spell, any answer (a 404 too) ends it.
func (h *headCache) load(ctx context.Context, bucket, key string) (store.Meta, error) {
	h.asked()
	ctx, span := telemetry.Child(ctx, spanHead, trace.SpanKindClient) // under a recorded request only
	m, err := h.ask(ctx, bucket, key)
	endHeadSpan(span, bucket, m, err)
	if err != nil {
		if !errors.Is(err, context.Canceled) && h.failingSince.CompareAndSwap(0, time.Now().UnixNano()) {
			h.log.Warn("S3 HEAD failed: cached existence answers are served for up to exists.stale_if_error past their ttl until one succeeds",
				"bucket", bucket, "key", key, "err", err)
		}
		return store.Meta{}, err
	}
	if since := h.failingSince.Load(); since != 0 && h.failingSince.CompareAndSwap(since, 0) {
		h.log.Info("S3 HEAD succeeded again: existence answers back to their usual windows",
			"failed_for", time.Since(time.Unix(0, since)).Round(time.Millisecond))
	}
	return m, nil
}

// wait blocks until the background refreshes started so far have ended
// (each is bounded by the S3 timeout).
func (h *headCache) wait() { h.bg.Wait() }

// hits returns how many lookups found an answer in memory, positive or
// negative (from the LRUs' own counters: nothing is added to the hot
// path).
func (h *headCache) hits() uint64 {
	return h.entries.Stats().Hits + h.missing.Stats().Hits
}
