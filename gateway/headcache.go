package gateway

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/edgegate/edgegate/cache"
	"github.com/edgegate/edgegate/store"
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
// key never makes requests wait on S3 when its entry expires. Keys may
// alias request buffers: they are cloned before the cache keeps them.
//
// It is safe for concurrent use.
type headCache struct {
	entries     *cache.Cache[existKey, store.Meta] // objects that exist
	missing     *cache.Cache[existKey, store.Meta] // objects that do not
	ttl, negTTL time.Duration
	ask         headFunc
	asked       func() // counts each HEAD sent (a metric)
	log         *slog.Logger

	refreshing sync.Map       // existKey → struct{}: background refreshes running
	bg         sync.WaitGroup // background refreshes, for shutdown
}

// newHeadCache builds the cache from cfg (validated: TTLs and size > 0).
func newHeadCache(cfg ExistsConfig, now func() time.Time, ask headFunc, asked func(), log *slog.Logger) (*headCache, error) {
	c, err := cache.New[existKey, store.Meta](cache.Options{MaxEntries: cfg.MaxEntries, Now: now})
	if err != nil {
		return nil, err
	}
	neg, err := cache.New[existKey, store.Meta](cache.Options{MaxEntries: cfg.NegativeMaxEntries, Now: now})
	if err != nil {
		return nil, err
	}
	return &headCache{entries: c, missing: neg, ttl: cfg.TTL, negTTL: cfg.NegativeTTL, ask: ask, asked: asked, log: log}, nil
}

// get returns an object's metadata from the cache, or from one coalesced
// HEAD whose answer is cached. hit reports that no HEAD was waited for.
func (h *headCache) get(ctx context.Context, bucket, key string) (m store.Meta, hit bool, err error) {
	if m, ok := h.cached(bucket, key); ok {
		return m, true, nil
	}
	k := existKey{bucket, strings.Clone(key)}
	// The flight is keyed in the positive cache, which keeps only objects
	// that exist (ttl 0 stores nothing and drops a stale positive answer);
	// a negative answer goes to its own cache.
	return h.entries.GetOrLoad(ctx, k, func(ctx context.Context) (store.Meta, time.Duration, error) {
		if m, ok := h.missing.Get(k); ok { // cached while this flight waited to start
			return m, 0, nil
		}
		m, err := h.load(ctx, k.bucket, k.key)
		if err != nil {
			return m, 0, err
		}
		if !m.Exists {
			h.missing.Set(k, m, h.negTTL)
			return m, 0, nil
		}
		h.missing.Set(k, m, 0) // drops an older negative answer
		return m, h.ttl, nil
	})
}

// cached is get from memory only, as the event loops need it: ok is false
// when nothing usable is cached. A stale answer starts its refresh.
func (h *headCache) cached(bucket, key string) (store.Meta, bool) {
	k := existKey{bucket, key}
	m, fresh, ok := h.entries.GetStale(k, h.ttl)
	if !ok {
		m, fresh, ok = h.missing.GetStale(k, h.ttl)
	}
	if ok && !fresh {
		h.refresh(bucket, key)
	}
	return m, ok
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
	k := existKey{bucket, strings.Clone(key)}
	if m.Exists {
		h.missing.Set(k, store.Meta{}, 0) // 0: drop
		h.entries.Set(k, m, h.ttl)
		return
	}
	h.entries.Set(k, store.Meta{}, 0)
	h.missing.Set(k, m, h.negTTL)
}

// refresh re-asks S3 about a stale entry in the background, once per key
// at a time. On failure the stale answer stays until it is too old.
func (h *headCache) refresh(bucket, key string) {
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

// load asks S3, counting the HEAD.
func (h *headCache) load(ctx context.Context, bucket, key string) (store.Meta, error) {
	h.asked()
	m, err := h.ask(ctx, bucket, key)
	if err != nil {
		return store.Meta{}, err
	}
	return m, nil
}

// wait blocks until the background refreshes started so far have ended
// (each is bounded by the S3 timeout).
func (h *headCache) wait() { h.bg.Wait() }
