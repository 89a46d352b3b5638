// Package filewatch tells its owner when any of a set of files may have
// changed, so that the owner (rules.Store, geo.DB, TLS certificates) can
// reload them. It owns the watching: fsnotify on the directories holding the
// files and the directories of their symlink targets, re-resolved after every
// change (so Kubernetes ConfigMap and Secret "..data" swaps, a symlink
// pointed elsewhere, "mv new old", in-place writes and editors'
// write-temp-then-rename all count); filtering out events that cannot concern
// the files; debouncing a burst into one call; and polling (stat: which file,
// size, modification time) as a safety net for lost events, or alone when
// file events are unavailable.
//
// It does not know what the files hold or how to reload them: a call means
// only "something may have changed", and the owner decides whether it did
// (by hashing the bytes, comparing file identities, ...). Paths are
// Unix-style; symlink resolution follows Unix semantics.
package filewatch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Defaults for the zero Config.
const (
	DefaultDebounce     = 100 * time.Millisecond
	DefaultPollInterval = 5 * time.Second
)

// Config tunes Run. The zero value is valid and means the defaults. Run
// takes a copy, so a Config may be shared.
type Config struct {
	// Debounce is how long Run waits after the last relevant file event
	// before calling back, so a burst (a write in several parts, a
	// Kubernetes swap) costs one call. Default: DefaultDebounce.
	Debounce time.Duration
	// PollInterval is how often Run stats the files in case events were
	// lost (network and overlay file systems, an inotify queue overflow)
	// or never come (fsnotify unavailable). Default: DefaultPollInterval.
	PollInterval time.Duration
	// Logger receives warnings (file events unavailable, a directory that
	// cannot be watched) and a debug line per relevant event. Default:
	// discard.
	Logger *slog.Logger

	// Test hooks. newEvents replaces fsnotify.NewWatcher; seen, if set, is
	// called on Run's goroutine with every file event and whether it was
	// relevant.
	newEvents func() (*fsnotify.Watcher, error)
	seen      func(ev fsnotify.Event, relevant bool)
}

// Validate reports a negative duration.
func (c Config) Validate() error {
	if c.Debounce < 0 {
		return fmt.Errorf("filewatch: negative debounce %v", c.Debounce)
	}
	if c.PollInterval < 0 {
		return fmt.Errorf("filewatch: negative poll interval %v", c.PollInterval)
	}
	return nil
}

// Run watches paths until ctx is done, then returns nil; it returns an
// error only for an invalid Config or a nil changed. It calls changed once
// as soon as its watches are in place (so a change made between the owner's
// load and Run is not missed; it also tells a caller that Run is watching),
// then once per debounced burst of relevant events and once per poll that
// sees a file that is not the one the previous poll or call saw. Before
// each call it re-resolves the paths' symlinks and moves its watches to
// where they now lead. If fsnotify cannot start it logs a warning and polls
// alone. With no paths it just waits for ctx.
//
// changed is called on Run's goroutine, never concurrently with itself;
// Run blocks meanwhile (events wait in the kernel's queue). Run itself may
// be called concurrently, e.g. once per owner: each call has its own
// watches and state. The paths slice is not modified or kept.
func Run(ctx context.Context, paths []string, cfg Config, changed func()) error {
	if changed == nil {
		return errors.New("filewatch: nil callback")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Debounce == 0 {
		cfg.Debounce = DefaultDebounce
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.newEvents == nil {
		cfg.newEvents = fsnotify.NewWatcher
	}
	if len(paths) == 0 {
		<-ctx.Done()
		return nil
	}
	w := &watcher{paths: append([]string(nil), paths...), cfg: cfg, log: cfg.Logger, warned: map[string]bool{}}
	ev, err := cfg.newEvents()
	if err != nil {
		w.log.Warn("filewatch: file events unavailable; polling only",
			"paths", w.paths, "poll_interval", cfg.PollInterval, "err", err)
	} else {
		w.ev = ev
		defer ev.Close()
	}
	return w.loop(ctx, changed)
}

// watcher is the state of one Run; only Run's goroutine uses it.
type watcher struct {
	paths  []string
	cfg    Config
	log    *slog.Logger
	ev     *fsnotify.Watcher // nil: polling only
	names  map[string]bool   // canonical paths whose events are relevant (see resolve)
	dirs   map[string]bool   // canonical directories holding them: watched when they exist
	warned map[string]bool   // directories whose watch failed, warned about once
	last   []fileState       // what the last poll or call saw
}

func (w *watcher) loop(ctx context.Context, changed func()) error {
	var events chan fsnotify.Event
	var errs chan error
	if w.ev != nil {
		events, errs = w.ev.Events, w.ev.Errors
	}
	call := func() {
		w.update()
		w.last = statAll(w.paths)
		changed()
	}
	call()

	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	poll := time.NewTicker(w.cfg.PollInterval)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				w.log.Warn("filewatch: file events stopped; polling only", "paths", w.paths)
				continue
			}
			rel := w.relevant(ev)
			if w.cfg.seen != nil {
				w.cfg.seen(ev, rel)
			}
			if rel {
				w.log.Debug("filewatch: change", "event", ev.String())
				debounce.Reset(w.cfg.Debounce)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			w.log.Warn("filewatch: file event error", "paths", w.paths, "err", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				debounce.Reset(w.cfg.Debounce) // events were lost: anything may have changed
			}
		case <-debounce.C:
			call()
		case <-poll.C:
			w.update() // picks up directories that have appeared
			if !sameStates(statAll(w.paths), w.last) {
				call()
			}
		}
	}
}

// relevant reports whether ev can concern a watched file: it names the
// file, a symlink on the way to it, or a directory holding one of them
// (removed or renamed). A pure chmod counts only on the names themselves.
func (w *watcher) relevant(ev fsnotify.Event) bool {
	name := filepath.Clean(ev.Name)
	if ev.Op == fsnotify.Chmod {
		return w.names[name]
	}
	return w.names[name] || w.dirs[name]
}

// update re-resolves the paths and moves the watches to the directories
// they now involve, dropping those no longer involved.
func (w *watcher) update() {
	names, dirs := map[string]bool{}, map[string]bool{}
	for _, p := range w.paths {
		for _, n := range resolve(p) {
			names[n] = true
			dirs[filepath.Dir(n)] = true
		}
	}
	w.names, w.dirs = names, dirs
	if w.ev == nil {
		return
	}
	// fsnotify drops a watch whose directory is removed or moved; its list
	// says what is watched now.
	have := map[string]bool{}
	for _, d := range w.ev.WatchList() {
		have[d] = true
		if !dirs[d] {
			_ = w.ev.Remove(d) // it may be gone already
		}
	}
	for d := range dirs {
		if have[d] {
			continue
		}
		err := w.ev.Add(d)
		switch {
		case err == nil:
			delete(w.warned, d)
		case errors.Is(err, fs.ErrNotExist):
			// Not there (yet): polling sees the file appear.
		case !w.warned[d]:
			w.warned[d] = true
			w.log.Warn("filewatch: cannot watch directory; polling it", "dir", d, "err", err)
		}
	}
}
