package rules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// StoreOptions configures a [Store]. The zero value is usable.
type StoreOptions struct {
	// Logger receives reload results; nil discards them.
	Logger *slog.Logger
	// OnReload is called after every reload attempt, e.g. to update
	// metrics. On success t is the new table and err is nil; on failure t
	// is the table still being served and err says why. It runs after the
	// reload lock is released, so it may call Status.
	OnReload func(t *Table, err error)
	// Debounce is how long the watcher waits for file events to settle
	// before reloading. Default 100ms.
	Debounce time.Duration
	// PollInterval is how often the watcher stats the file in case file
	// events are missed (some network and overlay file systems). Default 5s.
	PollInterval time.Duration
}

// Status describes a Store for debug endpoints and health checks.
type Status struct {
	Path     string
	Hash     string    // Table.Hash of the table being served
	LoadedAt time.Time // when the table being served was loaded
	Regions  int
	Routes   int
	// LastError is the error of the newest reload attempt if it failed,
	// i.e. the file on disk is not what is being served; empty after a
	// successful reload. LastErrorAt is when it happened.
	LastError   string
	LastErrorAt time.Time
	Reloads     uint64 // successful reloads since NewStore (the initial load is not counted)
	Failures    uint64 // failed reload attempts since NewStore
}

// Store holds the current [Table] and hot-reloads it from its file. Table is
// lock-free; reloads are serialised. It is safe for concurrent use.
type Store struct {
	path string
	opts StoreOptions
	log  *slog.Logger
	cur  atomic.Pointer[Table]

	mu          sync.Mutex // serialises reloads; guards the fields below
	loadedAt    time.Time
	lastErr     string
	lastErrAt   time.Time
	reloads     uint64
	failures    uint64
	lastAttempt string // sha256 of the newest bytes tried, or "err:"+read error
	lastStat    fileStat
}

type fileStat struct {
	mtime time.Time
	size  int64
}

// NewStore loads and compiles the rules file at path. It fails if the file
// cannot be read or is invalid (the error is then an *[Error]).
func NewStore(path string, opts StoreOptions) (*Store, error) {
	if opts.Debounce <= 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 5 * time.Second
	}
	s := &Store{path: path, opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	st := statFile(path)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	t, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	s.cur.Store(t)
	s.loadedAt = time.Now()
	s.lastAttempt = fullHash(data)
	s.lastStat = st
	return s, nil
}

// Table returns the current table. It never returns nil and does not lock.
func (s *Store) Table() *Table { return s.cur.Load() }

// Reload reads, validates and compiles the file and swaps the new table in.
// On error the old table keeps serving and the error is returned.
func (s *Store) Reload() error {
	s.mu.Lock()
	st := statFile(s.path)
	data, err := os.ReadFile(s.path)
	var t *Table
	if err != nil {
		t, err = s.finish(nil, "err:"+err.Error(), st, fmt.Errorf("rules: reload: %w", err))
	} else {
		t, err = s.apply(data, st)
	}
	s.mu.Unlock()
	s.notify(t, err)
	return err
}

func (s *Store) notify(t *Table, err error) {
	if s.opts.OnReload != nil {
		s.opts.OnReload(t, err)
	}
}

// reloadIfChanged reloads only if the file's bytes differ from the last
// attempt, so event storms and polls of an unchanged (or unchanged and
// still invalid) file are free of side effects.
func (s *Store) reloadIfChanged() {
	s.mu.Lock()
	st := statFile(s.path)
	data, err := os.ReadFile(s.path)
	var t *Table
	switch {
	case err != nil:
		key := "err:" + err.Error()
		if key == s.lastAttempt {
			s.mu.Unlock()
			return
		}
		t, err = s.finish(nil, key, st, fmt.Errorf("rules: reload: %w", err))
	case fullHash(data) == s.lastAttempt:
		s.lastStat = st
		s.mu.Unlock()
		return
	default:
		t, err = s.apply(data, st)
	}
	s.mu.Unlock()
	s.notify(t, err)
}

// apply parses data and swaps it in. s.mu must be held.
func (s *Store) apply(data []byte, st fileStat) (*Table, error) {
	t, err := Parse(s.path, data)
	return s.finish(t, fullHash(data), st, err)
}

// finish records a reload attempt and returns what to pass to OnReload
// once s.mu is released. s.mu must be held.
func (s *Store) finish(t *Table, attempt string, st fileStat, err error) (*Table, error) {
	s.lastAttempt, s.lastStat = attempt, st
	now := time.Now()
	if err != nil {
		s.failures++
		s.lastErr, s.lastErrAt = err.Error(), now
		old := s.cur.Load()
		s.log.Error("rules: reload failed; keeping the current rules", "path", s.path, "serving", old.Hash(), "err", err)
		return old, err
	}
	old := s.cur.Swap(t)
	s.reloads++
	s.loadedAt = now
	s.lastErr, s.lastErrAt = "", time.Time{}
	s.log.Info("rules: reloaded", "path", s.path, "hash", t.Hash(), "previous", old.Hash(),
		"regions", len(t.regions), "routes", len(t.routes))
	return t, nil
}

// Status returns a snapshot of the store's state.
func (s *Store) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.cur.Load()
	return Status{
		Path: s.path, Hash: t.Hash(), LoadedAt: s.loadedAt,
		Regions: len(t.regions), Routes: len(t.routes),
		LastError: s.lastErr, LastErrorAt: s.lastErrAt,
		Reloads: s.reloads, Failures: s.failures,
	}
}

// Watch reloads the table when its file changes, until ctx is done; it then
// returns nil. It watches the file's directory (and, if the path is a
// symlink, the target's directory) with fsnotify, so editors that write a
// temporary file and rename it, in-place writes and Kubernetes ConfigMap
// updates (which swap a "..data" symlink) are all seen. Events are
// debounced by StoreOptions.Debounce. Independently, the file is polled
// every StoreOptions.PollInterval (mtime and size, then content hash) in
// case events are lost; if fsnotify is unavailable, polling alone is used.
func (s *Store) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		s.log.Warn("rules: file events unavailable; polling only", "path", s.path, "err", err)
		w = nil
	}
	var events chan fsnotify.Event
	var errs chan error
	watched := map[string]bool{}
	if w != nil {
		defer w.Close()
		events, errs = w.Events, w.Errors
		s.updateWatches(w, watched)
	}

	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	poll := time.NewTicker(s.opts.PollInterval)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			debounce.Stop()
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if s.relevant(ev) {
				debounce.Reset(s.opts.Debounce)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			s.log.Warn("rules: file watch error", "path", s.path, "err", err)
		case <-debounce.C:
			s.reloadIfChanged()
			if w != nil {
				s.updateWatches(w, watched)
			}
		case <-poll.C:
			if st := statFile(s.path); s.statChanged(st) {
				s.reloadIfChanged()
			}
			if w != nil {
				s.updateWatches(w, watched)
			}
		}
	}
}

// relevant filters out events that cannot change what the path resolves
// to: only the watched directories are watched, so this drops nothing but
// pure chmods of unrelated files.
func (s *Store) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		base := filepath.Base(ev.Name)
		return base == filepath.Base(s.path)
	}
	return true
}

func (s *Store) statChanged(st fileStat) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !st.mtime.Equal(s.lastStat.mtime) || st.size != s.lastStat.size
}

// updateWatches watches the path's directory and the directory of the
// file it finally resolves to (these differ for Kubernetes ConfigMaps and
// other symlinked files), dropping directories no longer relevant.
func (s *Store) updateWatches(w *fsnotify.Watcher, watched map[string]bool) {
	want := map[string]bool{filepath.Dir(s.path): true}
	if real, err := filepath.EvalSymlinks(s.path); err == nil {
		want[filepath.Dir(real)] = true
	}
	for d := range watched {
		if !want[d] {
			_ = w.Remove(d) // the directory may already be gone
			delete(watched, d)
		}
	}
	for d := range want {
		if watched[d] {
			continue
		}
		if err := w.Add(d); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				s.log.Warn("rules: cannot watch directory", "dir", d, "err", err)
			}
			continue
		}
		watched[d] = true
	}
}

func statFile(path string) fileStat {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStat{}
	}
	return fileStat{mtime: fi.ModTime(), size: fi.Size()}
}

func fullHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
