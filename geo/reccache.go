package geo

import (
	"sync/atomic"
)

// recordCacheBits sizes each file's record cache: 2^14 slots, 128 KiB of
// pointers plus at most 16384 small entries (~1.5 MiB) once full.
const recordCacheBits = 14

// recordCache remembers decoded records of one open file by their data
// offset, so a hot record (the same client, the same /24, the same city
// block) costs only the tree walk: decoding a DB-IP record walks eight map
// keys and is half the cost of a cached-in-CPU lookup. It is direct-mapped
// and lock-free: readers load an immutable entry through an atomic pointer;
// a miss decodes and publishes a new entry (one small allocation), simply
// replacing whatever shared the slot. Offsets are only meaningful within one
// file, so each layer has its own cache and a reload starts cold.
type recordCache struct {
	slots [1 << recordCacheBits]atomic.Pointer[cacheEntry]
}

type cacheEntry struct {
	off uintptr
	loc Location
	ok  bool // false: the record has no usable country
}

func slotOf(off uintptr) uint64 {
	return (uint64(off) * 0x9E3779B97F4A7C15) >> (64 - recordCacheBits)
}

func (c *recordCache) get(off uintptr) *cacheEntry {
	if e := c.slots[slotOf(off)].Load(); e != nil && e.off == off {
		return e
	}
	return nil
}

func (c *recordCache) put(off uintptr, loc Location, ok bool) {
	c.slots[slotOf(off)].Store(&cacheEntry{off: off, loc: loc, ok: ok})
}
