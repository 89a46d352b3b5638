package rules

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgegate/edgegate/geo"
)

// rulesVersion returns a valid rules file whose global prefix names v, so a
// test can tell which version is being served.
func rulesVersion(v int) []byte {
	return fmt.Appendf(nil, `default_region: global
regions:
  egypt:  {country: EG, prefix: egypt/, fallback: global}
  global: {prefix: v%d/}
routes:
  - {name: assets, match: "**", bucket: edge-demo, delivery: presign, ttl: 15m}
`, v)
}

func servedVersion(s *Store) string {
	return s.Table().DefaultRegion().Prefix
}

type reloadLog struct {
	mu   sync.Mutex
	errs []error
	n    int
}

func (l *reloadLog) record(_ *Table, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if err != nil {
		l.errs = append(l.errs, err)
	}
}

func (l *reloadLog) snapshot() (int, []error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n, append([]error(nil), l.errs...)
}

// startWatch runs Watch until the test ends.
func startWatch(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	watching := make(chan struct{})
	s.watching = func() { close(watching) }
	go func() { done <- s.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch returned %v", err)
		}
	})
	// A change made before the watches are in place would be seen only
	// by the next poll (these tests poll hourly).
	select {
	case <-watching:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not start watching in 5s")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceFile writes data to a temporary file beside path and renames it
// into place, so a reload never reads a half-written file.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	writeFile(t, tmp, data)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func newTestStore(t *testing.T, path string, log *reloadLog) *Store {
	t.Helper()
	s, err := NewStore(path, StoreOptions{
		OnReload:     log.record,
		Debounce:     10 * time.Millisecond,
		PollInterval: time.Hour, // these tests exercise file events
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreWatchRenameReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeFile(t, path, rulesVersion(1))
	var log reloadLog
	s := newTestStore(t, path, &log)
	startWatch(t, s)

	tmp := filepath.Join(dir, ".rules.yaml.tmp")
	writeFile(t, tmp, rulesVersion(2))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v2", func() bool { return servedVersion(s) == "v2/" })
	// A second replace after the first: the watch survives the rename.
	writeFile(t, tmp, rulesVersion(3))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v3", func() bool { return servedVersion(s) == "v3/" })
	if st := s.Status(); st.Reloads != 2 || st.Failures != 0 || st.Hash != s.Table().Hash() {
		t.Errorf("Status = %+v", st)
	}
}

func TestStoreWatchInPlaceWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeFile(t, path, rulesVersion(1))
	var log reloadLog
	s := newTestStore(t, path, &log)
	startWatch(t, s)

	writeFile(t, path, rulesVersion(2))
	waitFor(t, "v2", func() bool { return servedVersion(s) == "v2/" })
}

// TestStoreWatchKubernetesSymlinks mimics how the kubelet updates a mounted
// ConfigMap: dir/rules.yaml -> ..data/rules.yaml, ..data -> ..<timestamp>;
// an update writes a new timestamped directory and atomically renames a new
// ..data symlink over the old one, then deletes the old directory.
func TestStoreWatchKubernetesSymlinks(t *testing.T) {
	dir := t.TempDir()
	version := func(name string, v int) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name, "rules.yaml"), rulesVersion(v))
	}
	version("..2024_01_01_00_00_00.1", 1)
	if err := os.Symlink("..2024_01_01_00_00_00.1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	if err := os.Symlink(filepath.Join("..data", "rules.yaml"), path); err != nil {
		t.Fatal(err)
	}
	var log reloadLog
	s := newTestStore(t, path, &log)
	startWatch(t, s)

	for v, ts := range []string{"..2024_01_01_00_01_00.2", "..2024_01_01_00_02_00.3"} {
		version(ts, v+2)
		tmpLink := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(ts, tmpLink); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmpLink, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("v%d/", v+2)
		waitFor(t, want, func() bool { return servedVersion(s) == want })
	}
	if _, errs := log.snapshot(); len(errs) > 0 {
		t.Errorf("reload errors: %v", errs)
	}
}

func TestStoreInvalidFileKeepsServing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeFile(t, path, rulesVersion(1))
	var log reloadLog
	s := newTestStore(t, path, &log)
	startWatch(t, s)
	good := s.Table()

	// Replaced, not written in place: a reload that caught the file
	// truncated but not yet rewritten would count an extra failure.
	replaceFile(t, path, []byte("default_region: global\nregions: {global: {prefix: x/}}\nroutes: []\nbogus: 1\n"))
	// The failure is counted under the store's lock, and OnReload runs
	// just after the lock is released: wait for both, or a busy machine
	// can catch the count before the callback.
	waitFor(t, "a failed reload", func() bool {
		n, _ := log.snapshot()
		return s.Status().Failures == 1 && n >= 1
	})
	if s.Table() != good {
		t.Fatal("invalid file replaced the served table")
	}
	st := s.Status()
	if !strings.Contains(st.LastError, `rules.yaml:4:1: unknown field "bogus"`) || st.LastErrorAt.IsZero() || st.Hash != good.Hash() {
		t.Errorf("Status = %+v", st)
	}
	n, errs := log.snapshot()
	var perr *Error
	if n != 1 || len(errs) != 1 || !errors.As(errs[0], &perr) {
		t.Errorf("OnReload calls = %d, errors = %v", n, errs)
	}
	if err := s.Reload(); err == nil {
		t.Error("explicit Reload of an invalid file succeeded")
	}

	// Fixing the file recovers and clears the error.
	replaceFile(t, path, rulesVersion(2))
	waitFor(t, "v2", func() bool { return servedVersion(s) == "v2/" })
	if st := s.Status(); st.LastError != "" || st.Reloads != 1 || st.Failures != 2 {
		t.Errorf("Status after fix = %+v", st)
	}
}

func TestStorePollingFallback(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeFile(t, path, rulesVersion(1))
	s, err := NewStore(path, StoreOptions{Debounce: time.Hour, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	startWatch(t, s)
	writeFile(t, path, rulesVersion(22)) // different size
	waitFor(t, "v22 by polling", func() bool { return servedVersion(s) == "v22/" })
}

func TestNewStoreInvalid(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeFile(t, path, []byte("regions: {}\n"))
	var perr *Error
	if _, err := NewStore(path, StoreOptions{}); !errors.As(err, &perr) {
		t.Errorf("NewStore(invalid) = %v, want *Error", err)
	}
	if _, err := NewStore(filepath.Join(dir, "missing.yaml"), StoreOptions{}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewStore(missing) = %v", err)
	}
}

// TestStoreConcurrentReloads swaps tables 200 times while 8 goroutines
// evaluate; run with -race.
func TestStoreConcurrentReloads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeFile(t, path, rulesVersion(0))
	var log reloadLog
	s := newTestStore(t, path, &log)

	var stop atomic.Bool
	var evals, failures atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			loc := geo.Location{Country: "EG", City: "Cairo"}
			for !stop.Load() {
				tbl := s.Table()
				reg := tbl.RegionFor(loc)
				r := tbl.Route("maps/a.png")
				if reg == nil || r == nil || len(r.Prefixes(reg)) != 2 || !strings.HasPrefix(r.Prefixes(reg)[1], "v") {
					failures.Add(1)
				}
				evals.Add(1)
			}
		})
	}
	for i := 1; i <= 200; i++ {
		writeFile(t, path, rulesVersion(i))
		if err := s.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if failures.Load() != 0 || evals.Load() == 0 {
		t.Errorf("%d failed evaluations of %d", failures.Load(), evals.Load())
	}
	if st := s.Status(); st.Reloads != 200 || servedVersion(s) != "v200/" {
		t.Errorf("Status = %+v, serving %s", st, servedVersion(s))
	}
	if n, errs := log.snapshot(); n != 200 || len(errs) != 0 {
		t.Errorf("OnReload: %d calls, errors %v", n, errs)
	}
}
