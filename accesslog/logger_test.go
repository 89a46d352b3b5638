package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func testConfig() Config {
	c := DefaultConfig()
	c.Enabled, c.FlushInterval = true, time.Millisecond
	return c
}

// syncBuffer collects what the writer wrote.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSuffix(s.b.String(), "\n"), "\n")
}

func logOne(t *testing.T, l *Logger, status int, id string) bool {
	t.Helper()
	e := l.Reserve()
	if e == nil {
		return false
	}
	e.Status = status
	e.SetRequestID([]byte(id))
	l.Commit(e)
	return true
}

func TestLinesWrittenInOrderFromManyGoroutines(t *testing.T) {
	var out syncBuffer
	l := New(testConfig(), &out)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				for !logOne(t, l, 200, strings.Repeat("x", g+1)+"-"+string(rune('a'+i%26))) {
					time.Sleep(time.Millisecond) // full: let the writer catch up (this test wants every line)
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := out.lines()
	st := l.Stats()
	if len(lines) != 2000 || st.Written != 2000 {
		t.Fatalf("%d lines, %d counted written; want 2000 (stats %+v)", len(lines), st.Written, st)
	}
	for _, ln := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("%v: %q", err, ln)
		}
	}
}

// blockingWriter blocks every Write until released.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	syncBuffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	select {
	case w.entered <- struct{}{}:
	default:
	}
	<-w.release
	return w.syncBuffer.Write(p)
}

func TestFullRingDropsAndCountsNeverBlocks(t *testing.T) {
	w := &blockingWriter{entered: make(chan struct{}, 1), release: make(chan struct{})}
	cfg := testConfig()
	cfg.Buffer = 64
	l := New(cfg, w)
	if !logOne(t, l, 200, "first") {
		t.Fatal("first entry refused")
	}
	<-w.entered // the writer holds "first" and is stuck in Write
	accepted := 1
	done := make(chan struct{})
	go func() { // must finish although the writer is stuck
		defer close(done)
		for range 1000 {
			if logOne(t, l, 200, "n") {
				accepted++
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Reserve blocked behind a stuck writer")
	}
	st := l.Stats()
	// "first" left the ring when the writer formatted it: the ring's 64
	// cells took 64 more.
	if accepted != 65 || st.Dropped != 1001-65 {
		t.Fatalf("accepted %d (want 1 + the ring's 64), dropped %d (want %d)", accepted, st.Dropped, 1001-65)
	}
	close(w.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Written != 65 || len(w.lines()) != 65 {
		t.Fatalf("written %d, %d lines; want 65", st.Written, len(w.lines()))
	}
}

func TestReserveCommitAllocateNothing(t *testing.T) {
	l := New(testConfig(), &syncBuffer{})
	defer l.Close()
	uri := []byte("/r/map-tiles.zip?region=uk-london")
	allocs := testing.AllocsPerRun(1000, func() {
		if !l.Sampled(302, time.Millisecond) {
			return
		}
		if e := l.Reserve(); e != nil {
			e.Status, e.Region = 302, "uk-london"
			e.SetURI(uri)
			e.SetKey("uk/london/map-tiles.zip")
			l.Commit(e)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per logged request, want 0", allocs)
	}
}

func TestNilLoggerLogsNothing(t *testing.T) {
	var l *Logger
	if l.Sampled(500, time.Hour) || l.Reserve() != nil || l.Reopen() != nil || l.Close() != nil {
		t.Fatal("a nil Logger must do nothing")
	}
}

func TestReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	cfg := testConfig()
	cfg.Output = path
	l, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	logOne(t, l, 200, "before")
	waitLines(t, path, 1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	logOne(t, l, 200, "between") // written to the renamed file, as logrotate expects until the signal
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	logOne(t, l, 200, "after")
	if got := waitLines(t, path, 1); !strings.Contains(got[0], `"after"`) {
		t.Fatalf("new file has %q", got)
	}
	old := waitLines(t, path+".1", 2)
	if !strings.Contains(old[0], `"before"`) || !strings.Contains(old[1], `"between"`) {
		t.Fatalf("rotated file has %q", old)
	}
}

func TestOpenRefusesAnUnwritablePath(t *testing.T) {
	cfg := testConfig()
	cfg.Output = filepath.Join(t.TempDir(), "missing-dir", "access.log")
	if _, err := Open(cfg); err == nil || !strings.HasPrefix(err.Error(), "accesslog: ") {
		t.Fatalf("err = %v, want an accesslog: error", err)
	}
}

// waitLines polls path until it has n lines (the writer flushes every
// millisecond here) and returns them.
func waitLines(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var lines []string
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			f.Close()
		}
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d lines after 10s, want %d", path, len(lines), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"defaults", func(*Config) {}, ""},
		{"format", func(c *Config) { c.Format = "xml" }, "access_log.format"},
		{"output", func(c *Config) { c.Output = "" }, "access_log.output"},
		{"sample 0", func(c *Config) { c.Sample = 0 }, "access_log.sample"},
		{"slow", func(c *Config) { c.Slow = -1 }, "access_log.slow"},
		{"buffer", func(c *Config) { c.Buffer = 10 }, "access_log.buffer"},
		{"flush", func(c *Config) { c.FlushInterval = 0 }, "access_log.flush_interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mut(&c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestFailedWritesCountTheirLines(t *testing.T) {
	l := New(testConfig(), failingWriter{})
	for range 10 {
		logOne(t, l, 200, "x")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Lost != 10 || st.Written != 0 || st.WriteErrors == 0 || !strings.HasPrefix(fmt.Sprint(l.Err()), "accesslog: write: ") {
		t.Fatalf("stats %+v, err %v: want 10 lines lost", st, l.Err())
	}
}
