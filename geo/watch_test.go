package geo

import (
	"context"
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
	// An unrelated file in the directory does not trigger reloads.
	n := db.Status().Reloads
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if got := db.Status().Reloads; got != n {
		t.Fatalf("writing an unrelated file caused %d reloads", got-n)
	}
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

func TestWatchMissingDirectory(t *testing.T) {
	db := mustOpen(t, nil, DBOptions{})
	db.paths = []string{filepath.Join(t.TempDir(), "gone", "db.mmdb")} // as if the directory vanished after open
	if err := db.Watch(context.Background()); err == nil {
		t.Fatal("Watch on a missing directory succeeded")
	}
}
