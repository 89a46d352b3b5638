package rules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgegate/edgegate/internal/filewatch"
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
	// before reloading. Default 100ms (filewatch.DefaultDebounce).
	Debounce time.Duration
	// PollInterval is how often the watcher stats the file in case file
	// events are missed (some network and overlay file systems). Default 5s
	// (filewatch.DefaultPollInterval).
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

	// watching, set by tests, is called once Watch's watches are in place.
	watching func()
}

// NewStore loads and compiles the rules file at path. It fails if the file
// cannot be read or is invalid (the error is then an *[Error]).
func NewStore(path string, opts StoreOptions) (*Store, error) {
	if opts.Debounce <= 0 {
		opts.Debounce = filewatch.DefaultDebounce
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = filewatch.DefaultPollInterval
	}
	s := &Store{path: path, opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
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
	return s, nil
}

// Table returns the current table. It never returns nil and does not lock.
func (s *Store) Table() *Table { return s.cur.Load() }

// Reload reads, validates and compiles the file and swaps the new table in.
// On error the old table keeps serving and the error is returned.
func (s *Store) Reload() error {
	s.mu.Lock()
	data, err := os.ReadFile(s.path)
	var t *Table
	if err != nil {
		t, err = s.finish(nil, "err:"+err.Error(), fmt.Errorf("rules: reload: %w", err))
	} else {
		t, err = s.apply(data)
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
	data, err := os.ReadFile(s.path)
	var t *Table
	switch {
	case err != nil:
		key := "err:" + err.Error()
		if key == s.lastAttempt {
			s.mu.Unlock()
			return
		}
		t, err = s.finish(nil, key, fmt.Errorf("rules: reload: %w", err))
	case fullHash(data) == s.lastAttempt:
		s.mu.Unlock()
		return
	default:
		t, err = s.apply(data)
	}
	s.mu.Unlock()
	s.notify(t, err)
}

// apply parses data and swaps it in. s.mu must be held.
func (s *Store) apply(data []byte) (*Table, error) {
	t, err := Parse(s.path, data)
	return s.finish(t, fullHash(data), err)
}

// finish records a reload attempt and returns what to pass to OnReload
// once s.mu is released. s.mu must be held.
func (s *Store) finish(t *Table, attempt string, err error) (*Table, error) {
	s.lastAttempt = attempt
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
// returns nil. It runs a [filewatch.Run] on the path: fsnotify on the file's
// directory and those its symlinks lead to (re-resolved after each change),
// so editors that write a temporary file and rename it, in-place writes,
// a symlink pointed elsewhere and Kubernetes ConfigMap updates (which swap a
// "..data" symlink) are all seen. Events are debounced by
// StoreOptions.Debounce; independently, the file is polled every
// StoreOptions.PollInterval (mtime, size, which file) in case events are
// lost, and polling alone is used if fsnotify is unavailable. Each time, the
// file is reloaded only if its bytes differ from the last attempt, so event
// storms and polls of an unchanged (or unchanged and still invalid) file
// have no effect.
func (s *Store) Watch(ctx context.Context) error {
	first := true
	return filewatch.Run(ctx, []string{s.path}, filewatch.Config{
		Debounce:     s.opts.Debounce,
		PollInterval: s.opts.PollInterval,
		Logger:       s.log,
	}, func() {
		s.reloadIfChanged()
		if first && s.watching != nil { // Run's first call: its watches are in place
			s.watching()
		}
		first = false
	})
}

func fullHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
