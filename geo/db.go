package geo

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// DefaultDebounce is how long Watch waits after the last change to a
// database file before reloading, when DBOptions.Debounce is zero.
const DefaultDebounce = 500 * time.Millisecond

// ErrClosed is returned by Reload and Watch after Close.
var ErrClosed = errors.New("geo: database closed")

// DBOptions tunes a DB. The zero value is valid.
type DBOptions struct {
	// Logger receives reload successes (Info) and failures (Error).
	// Default: discard.
	Logger *slog.Logger
	// OnReload, if set, is called after every Reload attempt (including
	// those started by Watch) with nil on success or the error; meant for
	// metrics. It is not called for the initial open. It must not block.
	OnReload func(err error)
	// Debounce is how long Watch waits for changes to settle before
	// reloading. Default: DefaultDebounce.
	Debounce time.Duration
	// PollInterval is how often Watch stats the files in case file events
	// are lost (network and overlay file systems) or unavailable. A poll
	// that finds every file as it was costs a few stats and no reload. Default: 5s
	// (filewatch.DefaultPollInterval).
	PollInterval time.Duration
}

// DB answers location lookups from layered .mmdb files: the first file that
// knows an address wins. It is safe for concurrent use. Lookups are lock-free:
// they load the current snapshot through an atomic pointer. Reload builds a
// complete new snapshot and swaps it in; a failed reload leaves the old one
// serving.
type DB struct {
	paths    []string
	log      *slog.Logger
	onReload func(error)
	debounce time.Duration
	poll     time.Duration // 0: filewatch's default

	cur atomic.Pointer[snapshot]

	flatPool sync.Pool // *flatRecord
	mmPool   sync.Pool // *mmRecord

	reloadMu sync.Mutex // serialises Reload and Close
	closed   bool       // guarded by reloadMu

	statusMu    sync.Mutex
	lastErr     error
	lastErrAt   time.Time
	reloadsOK   uint64
	reloadsFail uint64
}

// snapshot is one immutable set of open databases.
//
// Old snapshots are never closed explicitly. Each reader holds its file in
// a mapping of its own (on Linux a copy in huge-page memory, see
// openReader; elsewhere the file mapped), released with runtime.AddCleanup
// once the Reader is unreachable, and maxminddb-golang (v2.5+) keeps a
// Reader reachable for the whole of each Lookup/Decode. So when a reload
// swaps the pointer, in-flight lookups keep the old snapshot (and its
// memory) alive until they return, and the GC releases it afterwards. This
// costs nothing per lookup, where reference counting would add two atomic
// writes to one shared cache line on every request. On Linux a file
// rewritten in place cannot change a loaded reader; elsewhere replaced
// files must be renamed into place, or the old mapping would see the new
// bytes.
type snapshot struct {
	layers   []*layer
	loadedAt time.Time
}

type layer struct {
	path   string
	name   string // base name, reported as the lookup source
	r      *maxminddb.Reader
	schema schema
	ipv4   bool // IPv4-only file: skip IPv6 lookups
	cache  *recordCache
	id     fileID // what was opened, to skip reloads of unchanged files
}

// fileID identifies one version of a file: a rename-replace or a k8s
// symlink swap changes the inode; an in-place rewrite changes size or mtime.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path) // follows symlinks: the target's identity
	if err != nil {
		return fileID{}, err
	}
	id := fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), st.Ino
	}
	return id, nil
}

// unchanged reports whether every path is still the file s was opened from.
func (s *snapshot) unchanged(paths []string) bool {
	if s == nil || len(s.layers) != len(paths) {
		return false
	}
	for i, p := range paths {
		id, err := statID(p)
		if err != nil || id != s.layers[i].id || s.layers[i].id == (fileID{}) {
			return false
		}
	}
	return true
}

// OpenDB opens paths in order. With no paths it returns a DB that knows no
// address. Any error (missing file, not an .mmdb, a database without
// locations) fails the whole open.
func OpenDB(paths []string, opts DBOptions) (*DB, error) {
	if opts.Debounce < 0 {
		return nil, fmt.Errorf("geo: negative debounce %v", opts.Debounce)
	}
	if opts.PollInterval < 0 {
		return nil, fmt.Errorf("geo: negative poll interval %v", opts.PollInterval)
	}
	db := &DB{
		paths:    append([]string(nil), paths...),
		log:      opts.Logger,
		onReload: opts.OnReload,
		debounce: opts.Debounce,
		poll:     opts.PollInterval,
	}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	if db.debounce == 0 {
		db.debounce = DefaultDebounce
	}
	db.flatPool.New = func() any { return new(flatRecord) }
	db.mmPool.New = func() any { return &mmRecord{Subdivisions: make([]mmSubdivision, 0, 4)} }
	snap, err := loadSnapshot(db.paths)
	if err != nil {
		return nil, err
	}
	db.cur.Store(snap)
	return db, nil
}

func loadSnapshot(paths []string) (*snapshot, error) {
	s := &snapshot{layers: make([]*layer, 0, len(paths)), loadedAt: time.Now()}
	for _, p := range paths {
		l, err := openLayer(p)
		if err != nil {
			for _, l := range s.layers {
				_ = l.r.Close() // never published: nobody else can be using it
			}
			return nil, err
		}
		s.layers = append(s.layers, l)
	}
	return s, nil
}

func openLayer(path string) (*layer, error) {
	id, _ := statID(path) // zero on error: never equal, so the next reload reopens
	r, err := openReader(path)
	if err != nil {
		return nil, fmt.Errorf("geo: open %s: %w", path, err)
	}
	sc, err := detectSchema(r)
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("geo: open %s: %w", path, err)
	}
	return &layer{
		id:     id,
		path:   path,
		name:   filepath.Base(path),
		r:      r,
		schema: sc,
		ipv4:   r.Metadata.IPVersion == 4,
		cache:  new(recordCache),
	}, nil
}

// Lookup returns the location of ip from the first database that has a
// record with a country for it, and the base name of that file. Private,
// loopback, link-local, multicast, documentation and other reserved
// addresses are never looked up (ok is false). IPv4-mapped IPv6 addresses
// are looked up as IPv4. Continent is derived from the country when the
// database has none.
//
// Decoded records are cached per file (see recordCache): a lookup whose
// record is cached does not allocate; one that decodes a record allocates
// its cache entry, plus a string when a region or city name is not in the
// reader's string cache.
func (db *DB) Lookup(ip netip.Addr) (loc Location, source string, ok bool) {
	ip = ip.Unmap().WithZone("")
	if hasNoLocation(ip) {
		return Location{}, "", false
	}
	snap := db.cur.Load()
	for _, l := range snap.layers {
		if l.ipv4 && ip.Is6() {
			continue
		}
		res := l.r.Lookup(ip)
		if !res.Found() {
			continue
		}
		off := res.Offset()
		if e := l.cache.get(off); e != nil {
			if e.ok {
				return e.loc, l.name, true
			}
			continue
		}
		loc, ok = db.decode(l, res)
		l.cache.put(off, loc, ok)
		if ok {
			return loc, l.name, true
		}
	}
	return Location{}, "", false
}

func (db *DB) decode(l *layer, res maxminddb.Result) (Location, bool) {
	var loc Location
	switch l.schema {
	case schemaFlat:
		rec := db.flatPool.Get().(*flatRecord)
		rec.reset()
		err := res.Decode(rec)
		loc = rec.location()
		db.flatPool.Put(rec)
		if err != nil {
			return Location{}, false
		}
	case schemaMaxMind:
		rec := db.mmPool.Get().(*mmRecord)
		rec.reset()
		err := res.Decode(rec)
		loc = rec.location()
		db.mmPool.Put(rec)
		if err != nil {
			return Location{}, false
		}
	}
	info, ok := lookupCountry(loc.Country)
	if !ok {
		// No country (or a pseudo-country such as "ZZ"): this file does not
		// know the address; a later layer may.
		return Location{}, false
	}
	loc.Country = info.code
	if loc.Continent == "" {
		loc.Continent = info.continent
	}
	return loc, true
}

// Reload reopens every file and swaps the new set in. On any error the old
// set keeps serving, the error is logged, recorded in Status and passed to
// OnReload, and returned.
func (db *DB) Reload() error {
	db.reloadMu.Lock()
	defer db.reloadMu.Unlock()
	if db.closed {
		return ErrClosed
	}
	return db.reloadLocked()
}

// ReloadIfChanged reloads only when some file is not the one that was
// opened (another inode, size or modification time), so that a periodic
// or combined reload (SIGHUP, POST /-/reload) does not map unchanged
// 100 MB files again. It reports whether it reloaded.
func (db *DB) ReloadIfChanged() (bool, error) {
	db.reloadMu.Lock()
	defer db.reloadMu.Unlock()
	if db.closed {
		return false, ErrClosed
	}
	if db.cur.Load().unchanged(db.paths) {
		return false, nil
	}
	return true, db.reloadLocked()
}

func (db *DB) reloadLocked() error {
	start := time.Now()
	snap, err := loadSnapshot(db.paths)
	if err != nil {
		err = fmt.Errorf("geo: reload kept the previous databases: %w", err)
		db.statusMu.Lock()
		db.lastErr, db.lastErrAt = err, time.Now()
		db.reloadsFail++
		db.statusMu.Unlock()
		db.log.Error("geo: reload failed", "err", err)
		if db.onReload != nil {
			db.onReload(err)
		}
		return err
	}
	db.statusMu.Lock()
	db.reloadsOK++ // counted before the swap: whoever sees the new data sees the count
	db.statusMu.Unlock()
	db.cur.Store(snap) // the old snapshot is released by the GC; see snapshot
	db.log.Info("geo: databases reloaded", "files", len(snap.layers), "took", time.Since(start))
	if db.onReload != nil {
		db.onReload(nil)
	}
	// Collect now: the old files' memory maps are freed only when their
	// readers are garbage, and a small heap may not trigger a GC for long.
	// Reloads are rare; one GC each is cheap.
	runtime.GC()
	return nil
}

// Close stops the DB: later lookups know nothing and Reload and Watch return
// ErrClosed. Lookups already running finish against the old files, whose
// memory maps are released by the GC afterwards (see snapshot), so Close is
// safe to call while lookups are in flight.
func (db *DB) Close() error {
	db.reloadMu.Lock()
	defer db.reloadMu.Unlock()
	db.closed = true
	db.cur.Store(&snapshot{loadedAt: time.Now()})
	return nil
}

func (db *DB) isClosed() bool {
	db.reloadMu.Lock()
	defer db.reloadMu.Unlock()
	return db.closed
}

// DBStatus describes a DB for the debug endpoint. It marshals to JSON.
type DBStatus struct {
	Files          []FileStatus `json:"files"`
	LoadedAt       time.Time    `json:"loaded_at"`
	LastError      string       `json:"last_error,omitempty"`
	LastErrorAt    time.Time    `json:"last_error_at,omitzero"`
	Reloads        uint64       `json:"reloads"`
	ReloadFailures uint64       `json:"reload_failures"`
}

// FileStatus describes one loaded .mmdb file.
type FileStatus struct {
	Path         string    `json:"path"`
	DatabaseType string    `json:"database_type"`
	Schema       string    `json:"schema"` // "geoip2" or "flat"
	IPVersion    uint      `json:"ip_version"`
	BuildTime    time.Time `json:"build_time"`
	NodeCount    uint      `json:"node_count"`
}

// Status reports the files serving now, when they were loaded, reload
// counts and the last reload error (which stays until the process ends, so
// LastErrorAt can be compared with LoadedAt).
func (db *DB) Status() DBStatus {
	snap := db.cur.Load()
	st := DBStatus{LoadedAt: snap.loadedAt, Files: make([]FileStatus, 0, len(snap.layers))}
	for _, l := range snap.layers {
		md := l.r.Metadata
		st.Files = append(st.Files, FileStatus{
			Path:         l.path,
			DatabaseType: md.DatabaseType,
			Schema:       l.schema.String(),
			IPVersion:    md.IPVersion,
			BuildTime:    md.BuildTime().UTC(),
			NodeCount:    md.NodeCount,
		})
	}
	db.statusMu.Lock()
	if db.lastErr != nil {
		st.LastError, st.LastErrorAt = db.lastErr.Error(), db.lastErrAt
	}
	st.Reloads, st.ReloadFailures = db.reloadsOK, db.reloadsFail
	db.statusMu.Unlock()
	return st
}
