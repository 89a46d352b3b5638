package filewatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// wait bounds every wait for a positive signal: generous, for a busy CI
// machine; a passing test never waits this long.
const wait = 10 * time.Second

// missing is what a call reports for a path it cannot read.
const missing = "<missing>"

// watch is one Run under test. Each call of the callback reads the watched
// files, the way an owner reloads them, and reports what it read on calls,
// so a test waits for the call that sees its change, and a late call
// caused by an earlier step cannot be mistaken for it.
type watch struct {
	t     *testing.T
	calls chan string
	seen  chan seenEvent // nil unless asked for
	got   []string       // what calls read, in order, after the first
}

type seenEvent struct {
	name     string
	op       fsnotify.Op
	relevant bool
}

// start runs Run on paths until the test ends and returns once the first
// call (made when the watches are in place) has come.
func start(t *testing.T, paths []string, cfg Config, withSeen bool) *watch {
	t.Helper()
	w := &watch{t: t, calls: make(chan string, 1000)}
	ctx, cancel := context.WithCancel(context.Background())
	if withSeen {
		w.seen = make(chan seenEvent, 1000)
		cfg.seen = func(ev fsnotify.Event, relevant bool) {
			select {
			case w.seen <- seenEvent{filepath.Clean(ev.Name), ev.Op, relevant}:
			case <-ctx.Done():
			}
		}
	}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, paths, cfg, func() {
			select {
			case w.calls <- readAll(paths):
			case <-ctx.Done():
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil after cancel", err)
			}
		case <-time.After(wait):
			t.Error("Run did not return after cancel")
		}
	})
	select {
	case <-w.calls:
	case err := <-done:
		t.Fatalf("Run returned %v before the first call", err)
	case <-time.After(wait):
		t.Fatal("no first call from Run")
	}
	return w
}

func readAll(paths []string) string {
	var parts []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			parts = append(parts, missing)
			continue
		}
		parts = append(parts, string(b))
	}
	return strings.Join(parts, "|")
}

// waitCall waits for a call that reads want.
func (w *watch) waitCall(what, want string) {
	w.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case got := <-w.calls:
			w.got = append(w.got, got)
			if got == want {
				return
			}
		case <-timeout:
			w.t.Fatalf("%s: no call reading %q; calls read %q", what, want, w.got)
		}
	}
}

// waitSeen waits until an event for name has been seen and reports
// whether it was relevant.
func (w *watch) waitSeen(name string) bool {
	w.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case ev := <-w.seen:
			if ev.name == name {
				return ev.relevant
			}
		case <-timeout:
			w.t.Fatalf("no event for %s seen", name)
		}
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replace writes data beside path and renames it into place.
func replace(t *testing.T, path, data string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	write(t, tmp, data)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// relink points the symlink link at target atomically, like ln -sfn.
func relink(t *testing.T, target, link string) {
	t.Helper()
	tmp := link + ".tmp"
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// k8sVolume lays out dir the way the kubelet mounts a ConfigMap or Secret
// holding files (name → content): dir/..<timestamp>/name holds the data,
// dir/..data links to the timestamped directory and dir/name links to
// ..data/name. The returned swap updates it the way the kubelet does: a
// new timestamped directory, a new ..data link renamed over the old one,
// then the old directory removed.
func k8sVolume(t *testing.T, dir string, files map[string]string) (swap func(map[string]string)) {
	t.Helper()
	version, current := 0, ""
	swap = func(files map[string]string) {
		version++
		ts := fmt.Sprintf("..2026_06_05_10_00_%02d.%09d", version, version)
		mkdir(t, filepath.Join(dir, ts))
		for name, data := range files {
			write(t, filepath.Join(dir, ts, name), data)
		}
		relink(t, ts, filepath.Join(dir, "..data"))
		if current != "" {
			if err := os.RemoveAll(filepath.Join(dir, current)); err != nil {
				t.Fatal(err)
			}
		}
		current = ts
	}
	swap(files)
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return swap
}

// eventsOnly makes a Config in which only file events can cause a call.
func eventsOnly() Config {
	return Config{Debounce: 20 * time.Millisecond, PollInterval: time.Hour}
}

type step struct {
	what   string
	change func()
	want   string // what a call reads afterwards
}

func TestRunSeesChanges(t *testing.T) {
	tests := []struct {
		name string
		// layout fills dir and returns the paths to watch and the changes
		// to make, in order.
		layout func(t *testing.T, dir string) ([]string, []step)
	}{
		{"in-place write", func(t *testing.T, dir string) ([]string, []step) {
			f := filepath.Join(dir, "f.conf")
			write(t, f, "v1")
			return []string{f}, []step{
				{"write", func() { write(t, f, "v2") }, "v2"},
				{"write again", func() { write(t, f, "v3") }, "v3"},
			}
		}},
		{"rename-replace", func(t *testing.T, dir string) ([]string, []step) {
			f := filepath.Join(dir, "f.conf")
			write(t, f, "v1")
			return []string{f}, []step{
				{"replace", func() { replace(t, f, "v2") }, "v2"},
				{"replace again", func() { replace(t, f, "v3") }, "v3"},
			}
		}},
		// vim with backupcopy=no: the old file is moved aside and a new one
		// written under the name.
		{"backup then write", func(t *testing.T, dir string) ([]string, []step) {
			f := filepath.Join(dir, "f.conf")
			write(t, f, "v1")
			return []string{f}, []step{
				{"move aside and write", func() {
					if err := os.Rename(f, f+"~"); err != nil {
						t.Fatal(err)
					}
					write(t, f, "v2")
				}, "v2"},
			}
		}},
		{"deleted then recreated", func(t *testing.T, dir string) ([]string, []step) {
			f := filepath.Join(dir, "f.conf")
			write(t, f, "v1")
			return []string{f}, []step{
				{"delete", func() {
					if err := os.Remove(f); err != nil {
						t.Fatal(err)
					}
				}, missing},
				{"recreate", func() { write(t, f, "v2") }, "v2"},
			}
		}},
		{"kubernetes ..data swap", func(t *testing.T, dir string) ([]string, []step) {
			swap := k8sVolume(t, dir, map[string]string{"tls.crt": "crt1", "tls.key": "key1"})
			return []string{filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")}, []step{
				{"swap", func() { swap(map[string]string{"tls.crt": "crt2", "tls.key": "key2"}) }, "crt2|key2"},
				{"swap again", func() { swap(map[string]string{"tls.crt": "crt3", "tls.key": "key3"}) }, "crt3|key3"},
			}
		}},
		{"symlink to another directory", func(t *testing.T, dir string) ([]string, []step) {
			etc, a, b := filepath.Join(dir, "etc"), filepath.Join(dir, "a"), filepath.Join(dir, "b")
			for _, d := range []string{etc, a, b} {
				mkdir(t, d)
			}
			write(t, filepath.Join(a, "x.conf"), "a1")
			write(t, filepath.Join(b, "y.conf"), "b1")
			link := filepath.Join(etc, "f.conf")
			if err := os.Symlink(filepath.Join("..", "a", "x.conf"), link); err != nil {
				t.Fatal(err)
			}
			return []string{link}, []step{
				{"write the target", func() { write(t, filepath.Join(a, "x.conf"), "a2") }, "a2"},
				{"replace the target", func() { replace(t, filepath.Join(a, "x.conf"), "a3") }, "a3"},
				{"point the link elsewhere", func() { relink(t, filepath.Join(b, "y.conf"), link) }, "b1"},
				{"write the new target", func() { write(t, filepath.Join(b, "y.conf"), "b2") }, "b2"},
			}
		}},
		{"several files in several directories", func(t *testing.T, dir string) ([]string, []step) {
			one, two := filepath.Join(dir, "a", "one.mmdb"), filepath.Join(dir, "b", "two.mmdb")
			mkdir(t, filepath.Dir(one))
			mkdir(t, filepath.Dir(two))
			write(t, one, "one1")
			write(t, two, "two1")
			return []string{one, two}, []step{
				{"replace the second", func() { replace(t, two, "two2") }, "one1|two2"},
				{"replace the first", func() { replace(t, one, "one2") }, "one2|two2"},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paths, steps := tt.layout(t, t.TempDir())
			w := start(t, paths, eventsOnly(), false)
			for _, s := range steps {
				s.change()
				w.waitCall(s.what, s.want)
			}
		})
	}
}

// TestRunDebounces: a burst of writes costs one call, made after the last.
// A later change is waited for, so that a second call for the burst, had
// there been one, would have arrived before it.
func TestRunDebounces(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f.conf")
	write(t, f, "v0")
	// The debounce is long so that even a busy machine runs the burst's
	// writes closer together than that.
	w := start(t, []string{f}, Config{Debounce: time.Second, PollInterval: time.Hour}, false)
	for i := 1; i <= 5; i++ {
		write(t, f, fmt.Sprintf("burst%d", i))
	}
	w.waitCall("a burst", "burst5")
	write(t, f, "after")
	w.waitCall("a write after the burst", "after")
	if want := []string{"burst5", "after"}; !slices.Equal(w.got, want) {
		t.Errorf("calls read %q, want %q", w.got, want)
	}
}

// TestRunIgnoresUnrelated: events for other files in a watched directory
// (a write, a chmod, a temporary file's rename) are seen and dropped; the
// only call is for the watched file's own change that follows them.
func TestRunIgnoresUnrelated(t *testing.T) {
	dir := t.TempDir()
	f, other := filepath.Join(dir, "f.conf"), filepath.Join(dir, "other.conf")
	write(t, f, "v1")
	write(t, other, "x")
	w := start(t, []string{f}, eventsOnly(), true)

	write(t, filepath.Join(dir, "notes.txt"), "unrelated")
	if w.waitSeen(filepath.Join(dir, "notes.txt")) {
		t.Error("a write to another file in the directory was relevant")
	}
	if err := os.Chmod(other, 0o600); err != nil {
		t.Fatal(err)
	}
	if w.waitSeen(other) {
		t.Error("a chmod of another file in the directory was relevant")
	}
	replace(t, other, "y") // a temporary file renamed over another file
	if w.waitSeen(other) {
		t.Error("replacing another file in the directory was relevant")
	}
	write(t, f, "v2")
	if !w.waitSeen(f) {
		t.Error("a write to the watched file was not relevant")
	}
	w.waitCall("the watched file", "v2")
	if want := []string{"v2"}; !slices.Equal(w.got, want) {
		t.Errorf("calls read %q, want %q (unrelated events caused calls)", w.got, want)
	}
}

// lockedBuffer is a log destination safe for Run's goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRunPolls: the poll sees changes when fsnotify cannot start (and a
// warning says so), and when events come but would be acted on too late.
func TestRunPolls(t *testing.T) {
	noEvents := func() (*fsnotify.Watcher, error) { return nil, errors.New("too many open files") }
	tests := []struct {
		name      string
		cfg       Config
		change    func(t *testing.T, f string)
		want      string
		wantWarns bool
	}{
		{"events unavailable, in-place write",
			Config{PollInterval: 20 * time.Millisecond, newEvents: noEvents},
			func(t *testing.T, f string) { write(t, f, "v2 longer") }, "v2 longer", true},
		{"events unavailable, rename-replace of the same size",
			Config{PollInterval: 20 * time.Millisecond, newEvents: noEvents},
			func(t *testing.T, f string) { replace(t, f, "v2") }, "v2", true},
		{"events debounced for an hour",
			Config{Debounce: time.Hour, PollInterval: 20 * time.Millisecond},
			func(t *testing.T, f string) { write(t, f, "v2 longer") }, "v2 longer", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "f.conf")
			write(t, f, "v1")
			var log lockedBuffer
			tt.cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
			w := start(t, []string{f}, tt.cfg, false)
			tt.change(t, f)
			w.waitCall("a change, by polling", tt.want)
			if got := strings.Contains(log.String(), "polling only"); got != tt.wantWarns {
				t.Errorf("warned of polling only: %v, want %v; log:\n%s", got, tt.wantWarns, log.String())
			}
		})
	}
}

// TestRunMissingDirectory: a directory that does not exist yet is no
// error; polling sees the file once it appears.
func TestRunMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	f := filepath.Join(dir, "f.conf")
	w := start(t, []string{f}, Config{Debounce: 20 * time.Millisecond, PollInterval: 20 * time.Millisecond}, false)
	mkdir(t, dir)
	write(t, f, "v1")
	w.waitCall("the file appearing", "v1")
}

func TestRunNoPaths(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, nil, Config{}, func() { t.Error("called with no paths") }) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(wait):
		t.Fatal("Run with no paths did not return after cancel")
	}
}

func TestRunInvalid(t *testing.T) {
	f := func() {}
	tests := []struct {
		name    string
		cfg     Config
		changed func()
		want    string
	}{
		{"negative debounce", Config{Debounce: -1}, f, "filewatch: negative debounce"},
		{"negative poll interval", Config{PollInterval: -time.Second}, f, "filewatch: negative poll interval"},
		{"no callback", Config{}, nil, "filewatch: nil callback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(context.Background(), []string{"x"}, tt.cfg, tt.changed)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Run = %v, want %q...", err, tt.want)
			}
		})
	}
}
