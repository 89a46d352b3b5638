package geo

import (
	"context"
	"errors"

	"github.com/edgegate/edgegate/internal/filewatch"
)

// Watch reloads the databases when their files change, until ctx is done;
// it then returns nil. It runs a [filewatch.Run] on the files: fsnotify on
// their directories and those their symlinks lead to (re-resolved after each
// change), so an atomic rename-replace ("mv new.mmdb GeoLite2-City.mmdb"),
// an in-place write, a symlink pointed elsewhere and a Kubernetes "..data"
// swap all count; changes are debounced by DBOptions.Debounce. The files are
// also polled every DBOptions.PollInterval in case events are lost, and
// polling alone is used if fsnotify is unavailable. Each time, ReloadIfChanged
// reopens the files only if one is not the file that was opened, so a poll
// or a stray event never maps unchanged files again; a reload's outcome is
// reported like any Reload (log, OnReload, Status). Watch returns ErrClosed
// once the DB is closed. Watch on a DB with no files just waits for ctx.
func (db *DB) Watch(ctx context.Context) error {
	if db.isClosed() {
		return ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	closed := false // set on Run's goroutine, read after Run returns
	err := filewatch.Run(ctx, db.paths, filewatch.Config{
		Debounce:     db.debounce,
		PollInterval: db.poll,
		Logger:       db.log,
	}, func() {
		// Failures are reported through log, OnReload and Status.
		if _, err := db.ReloadIfChanged(); errors.Is(err, ErrClosed) {
			closed = true
			cancel()
		}
	})
	if closed {
		return ErrClosed
	}
	return err
}
