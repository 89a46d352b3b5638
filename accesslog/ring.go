package accesslog

import (
	"bytes"
	"io"
	"os"
	"sync"
)

// Tail keeps the last bytes of the lines a Logger writes, for the admin
// console's access-log view: a fixed circular buffer the writer goroutine
// copies each batch into (one copy, nothing allocated), read back as whole
// lines. Safe for concurrent use; a nil *Tail keeps nothing.
type Tail struct {
	mu      sync.Mutex
	buf     []byte
	written uint64 // bytes written so far; buf[written%len] is the next byte
}

// NewTail keeps the last size bytes (at least 4 KiB).
func NewTail(size int) *Tail {
	return &Tail{buf: make([]byte, max(size, 4<<10))}
}

// Write keeps the end of b. It never fails.
func (t *Tail) Write(b []byte) (int, error) {
	if t == nil {
		return len(b), nil
	}
	n := len(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(b) > len(t.buf) {
		t.written += uint64(len(b) - len(t.buf))
		b = b[len(b)-len(t.buf):]
	}
	at := int(t.written % uint64(len(t.buf)))
	c := copy(t.buf[at:], b)
	copy(t.buf, b[c:])
	t.written += uint64(len(b))
	return n, nil
}

// Last returns up to n of the most recent complete lines (oldest first)
// for which keep returns true (nil keeps all), and how many complete
// lines the tail holds.
func (t *Tail) Last(n int, keep func(line []byte) bool) (lines []string, held int) {
	if t == nil || n <= 0 {
		return nil, 0
	}
	t.mu.Lock()
	var data []byte
	if t.written <= uint64(len(t.buf)) {
		data = append([]byte(nil), t.buf[:t.written]...)
	} else {
		at := int(t.written % uint64(len(t.buf)))
		data = append(append(make([]byte, 0, len(t.buf)), t.buf[at:]...), t.buf[:at]...)
		// The oldest line was cut by the wrap: drop its remainder.
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		} else {
			data = nil
		}
	}
	t.mu.Unlock()
	// A line still being written (no newline yet) is not complete.
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	} else {
		return nil, 0
	}
	all := bytes.Split(data, []byte{'\n'})
	held = len(all)
	for i := len(all) - 1; i >= 0 && len(lines) < n; i-- {
		if keep == nil || keep(all[i]) {
			lines = append(lines, string(all[i]))
		}
	}
	for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
		lines[i], lines[j] = lines[j], lines[i]
	}
	return lines, held
}

// OpenTail is Open with every line written also kept in t (nil: Open).
func OpenTail(cfg Config, t *Tail) (*Logger, error) {
	if t == nil {
		return Open(cfg)
	}
	var w io.Writer
	var out *file
	switch cfg.Output {
	case "stdout":
		w = os.Stdout
	case "stderr":
		w = os.Stderr
	default:
		f, err := openFile(cfg.Output)
		if err != nil {
			return nil, err
		}
		w, out = f, f
	}
	return start(cfg, tee{w, t}, out), nil
}

// tee writes a batch to the log's output and keeps it in the tail.
type tee struct {
	w io.Writer
	t *Tail
}

func (t tee) Write(b []byte) (int, error) {
	t.t.Write(b)
	return t.w.Write(b)
}
