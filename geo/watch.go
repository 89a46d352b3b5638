package geo

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// k8sDataDir is the symlink Kubernetes swaps atomically when a mounted
// ConfigMap or Secret changes: files are links through "..data".
const k8sDataDir = "..data"

// Watch reloads the databases when their files change, until ctx is done;
// it then returns nil. It watches the directories holding the files (a file
// watch would be lost when the file is replaced), so an atomic
// rename-replace ("mv new.mmdb GeoLite2-City.mmdb"), a symlink swap and a
// Kubernetes "..data" swap all count. Changes are debounced by
// DBOptions.Debounce; each burst triggers one Reload, whose outcome is
// reported like any Reload (log, OnReload, Status). Watch on a DB with no
// files just waits for ctx.
func (db *DB) Watch(ctx context.Context) error {
	if db.isClosed() {
		return ErrClosed
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("geo: watch: %w", err)
	}
	defer w.Close()

	names := map[string]bool{k8sDataDir: true}
	dirs := map[string]bool{}
	for _, p := range db.paths {
		names[filepath.Base(p)] = true
		dir := filepath.Dir(p)
		if dirs[dir] {
			continue
		}
		if err := w.Add(dir); err != nil {
			return fmt.Errorf("geo: watch %s: %w", dir, err)
		}
		dirs[dir] = true
	}

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename|fsnotify.Remove) == 0 ||
				!names[filepath.Base(ev.Name)] {
				continue
			}
			db.log.Debug("geo: database file changed", "event", ev.String())
			timer.Reset(db.debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			db.log.Warn("geo: watch error", "err", err)
		case <-timer.C:
			if db.isClosed() {
				return ErrClosed
			}
			_ = db.Reload() // reported through log, OnReload and Status
		}
	}
}
