package geo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// startWatch runs db.Watch until the test ends and checks it returns nil.
func startWatch(t *testing.T, db *DB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- db.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch returned %v, want nil after cancel", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Watch did not return after cancel")
		}
	})
}

// eventually repeats change (the watcher may not be registered yet on the
// first try; every change is idempotent) until cond holds or 10s pass.
func eventually(t *testing.T, what string, change func(), cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		change()
		for range 20 {
			if cond() {
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	t.Fatalf("%s: not picked up by Watch", what)
}

func TestWatchRenameReplace(t *testing.T) {
	dir := t.TempDir()
	path := cairoDB(t, filepath.Join(dir, "dbip-city-ipv4.mmdb"), "Cairo")
	other := cityFixture(t, dir) // a second file in the same directory
	var rec reloadRecorder
	db := mustOpen(t, []string{path, other}, rec.opts(20*time.Millisecond))
	startWatch(t, db)

	eventually(t, "rename-replace",
		func() { cairoDB(t, path, "Giza") }, // writeMMDB renames into place
		func() bool { return cityAt(t, db, "156.173.1.1") == "Giza" })
	if st := db.Status(); st.Reloads == 0 || st.ReloadFailures != 0 {
		t.Fatalf("Status = %+v", st)
	}
	// An unrelated file in the directory does not cause a reload: after
	// it, one more replace costs exactly one.
	n := db.Status().Reloads
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cairoDB(t, path, "Maadi")
	waitUntil(t, "a replace after an unrelated write", func() bool { return cityAt(t, db, "156.173.1.1") == "Maadi" })
	if got := db.Status().Reloads; got != n+1 {
		t.Fatalf("an unrelated write and a replace caused %d reloads, want 1", got-n)
	}
}

// waitUntil waits up to 10s for cond.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventually(t, what, func() {}, cond)
}

// TestWatchSymlinkSwap mimics a Kubernetes ConfigMap/Secret volume:
// dir/db.mmdb -> ..data/db.mmdb, ..data -> ..<timestamp>, and an update
// atomically renames a new ..data symlink into place.
func TestWatchSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	version := 0
	swap := func(city string) {
		version++
		ts := filepath.Join(dir, fmt.Sprintf("..2026_06_05_%d", version))
		if err := os.Mkdir(ts, 0o755); err != nil {
			t.Fatal(err)
		}
		cairoDB(t, filepath.Join(ts, "db.mmdb"), city)
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	swap("Cairo")
	path := filepath.Join(dir, "db.mmdb")
	if err := os.Symlink(filepath.Join("..data", "db.mmdb"), path); err != nil {
		t.Fatal(err)
	}
	db := mustOpen(t, []string{path}, DBOptions{Debounce: 20 * time.Millisecond})
	if got := cityAt(t, db, "156.173.1.1"); got != "Cairo" {
		t.Fatalf("initial city %q", got)
	}
	startWatch(t, db)
	eventually(t, "..data symlink swap",
		func() { swap("Maadi") },
		func() bool { return cityAt(t, db, "156.173.1.1") == "Maadi" })
}

func TestWatchBadFileKeepsServing(t *testing.T) {
	dir := t.TempDir()
	path := cairoDB(t, filepath.Join(dir, "db.mmdb"), "Cairo")
	var rec reloadRecorder
	db := mustOpen(t, []string{path}, rec.opts(20*time.Millisecond))
	startWatch(t, db)
	eventually(t, "bad file",
		func() {
			tmp := filepath.Join(dir, "db.tmp")
			if err := os.WriteFile(tmp, []byte("truncated"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		},
		func() bool { return db.Status().ReloadFailures > 0 })
	if got := cityAt(t, db, "156.173.1.1"); got != "Cairo" {
		t.Fatalf("after a bad file: city %q, want the old Cairo", got)
	}
	calls := rec.calls()
	if len(calls) == 0 || calls[len(calls)-1] == nil {
		t.Fatalf("OnReload calls = %v, want a failure last", calls)
	}
	if st := db.Status(); st.LastError == "" || len(st.Files) != 1 {
		t.Fatalf("Status = %+v", st)
	}
}

// TestWatchMissingDirectory: a directory that has gone (a volume
// unmounted, a directory being replaced) does not stop Watch: the database
// is reloaded once it is back.
func TestWatchMissingDirectory(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "geoip")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := cairoDB(t, filepath.Join(dir, "db.mmdb"), "Cairo")
	db := mustOpen(t, []string{path}, DBOptions{Debounce: 20 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if err := os.Rename(dir, filepath.Join(root, "old")); err != nil {
		t.Fatal(err)
	}
	startWatch(t, db)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cairoDB(t, path, "Giza")
	waitUntil(t, "the directory back", func() bool { return cityAt(t, db, "156.173.1.1") == "Giza" })
}

func TestWatchClosed(t *testing.T) {
	path := cairoDB(t, filepath.Join(t.TempDir(), "db.mmdb"), "Cairo")
	db := mustOpen(t, []string{path}, DBOptions{Debounce: 20 * time.Millisecond})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Watch(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Watch after Close = %v, want ErrClosed", err)
	}
}

// TestWatchStopsOnClose: Close while Watch runs makes the next change
// end Watch with ErrClosed.
func TestWatchStopsOnClose(t *testing.T) {
	path := cairoDB(t, filepath.Join(t.TempDir(), "db.mmdb"), "Cairo")
	db := mustOpen(t, []string{path}, DBOptions{Debounce: 20 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- db.Watch(context.Background()) }()
	eventually(t, "a replace before Close", // so Watch is running
		func() { cairoDB(t, path, "Giza") },
		func() bool { return cityAt(t, db, "156.173.1.1") == "Giza" })
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	cairoDB(t, path, "Maadi")
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Watch = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after Close and a change")
	}
}

// TestWatchSymlinkTarget: the configured path is a symlink into another
// directory (as a package manager or a config tool lays it out); a
// rename-replace of the target is seen there, and after the link is
// pointed at a third directory, changes there are seen too.
func TestWatchSymlinkTarget(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"etc", "a", "b"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := cairoDB(t, filepath.Join(root, "a", "db.mmdb"), "Cairo")
	path := filepath.Join(root, "etc", "db.mmdb")
	if err := os.Symlink(filepath.Join("..", "a", "db.mmdb"), path); err != nil {
		t.Fatal(err)
	}
	db := mustOpen(t, []string{path}, DBOptions{Debounce: 20 * time.Millisecond, PollInterval: time.Hour})
	startWatch(t, db)

	eventually(t, "rename-replace of the symlink's target",
		func() { cairoDB(t, target, "Giza") },
		func() bool { return cityAt(t, db, "156.173.1.1") == "Giza" })

	other := cairoDB(t, filepath.Join(root, "b", "db.mmdb"), "Maadi")
	tmp := filepath.Join(root, "etc", "db.mmdb.tmp")
	eventually(t, "the symlink pointed elsewhere",
		func() {
			_ = os.Remove(tmp)
			if err := os.Symlink(filepath.Join("..", "b", "db.mmdb"), tmp); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		},
		func() bool { return cityAt(t, db, "156.173.1.1") == "Maadi" })
	eventually(t, "rename-replace of the new target",
		func() { cairoDB(t, other, "Helwan") },
		func() bool { return cityAt(t, db, "156.173.1.1") == "Helwan" })
}

// TestWatchPolls: with file events as good as off (an hour's debounce),
// the poll alone picks up a replaced file.
func TestWatchPolls(t *testing.T) {
	path := cairoDB(t, filepath.Join(t.TempDir(), "db.mmdb"), "Cairo")
	db := mustOpen(t, []string{path}, DBOptions{Debounce: time.Hour, PollInterval: 20 * time.Millisecond})
	startWatch(t, db)
	eventually(t, "a replaced file, by polling",
		func() { cairoDB(t, path, "Giza") },
		func() bool { return cityAt(t, db, "156.173.1.1") == "Giza" })
}
