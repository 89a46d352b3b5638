// Package cache provides [Cache], a generic, size-bounded LRU with
// per-entry expiry and coalesced loading: concurrent misses for the same
// key run the load function once, and the flight re-checks the cache
// before loading (the groupcache pattern).
//
// It owns in-process memoisation only (presigned URLs, object-existence
// answers, resized images). It does not know what it stores, does not
// persist or share entries across processes, does not cache errors, and
// imports nothing from edgegate.
package cache
