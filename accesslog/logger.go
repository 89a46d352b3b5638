package accesslog

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Logger queues entries in a bounded ring and writes them from one
// goroutine. Reserve, Commit, Sampled, Stats and Reopen are safe for
// concurrent use; a nil *Logger logs nothing (Reserve returns nil).
type Logger struct {
	cells []cell
	mask  uint64
	half  uint64
	enq   atomic.Uint64 // next position to reserve
	seen  atomic.Uint64 // the writer's position after its last batch

	sample   uint64
	slow     time.Duration
	format   func([]byte, *Entry) []byte
	interval time.Duration

	w      io.Writer
	out    *file // nil: w is not a file of ours (stdout, a test's writer)
	wake   chan struct{}
	reopen chan chan error
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once

	written, dropped, writeErrors, lost atomic.Uint64
	lastErr                             atomic.Pointer[error]
}

// cell is one ring slot (D. Vyukov's bounded queue): seq == pos when free
// for the producer at pos, pos+1 once committed, pos+len when the writer
// is done with it.
type cell struct {
	seq atomic.Uint64
	e   Entry
}

// Stats counts what a Logger did.
type Stats struct {
	Written     uint64 // lines written
	Dropped     uint64 // entries dropped because the ring was full
	WriteErrors uint64 // failed writes
	Lost        uint64 // lines lost to failed writes
}

// New starts a Logger writing cfg.Format lines to w from its own
// goroutine; cfg must be valid. Writes to w happen on that goroutine only.
// Close stops it.
func New(cfg Config, w io.Writer) *Logger { return start(cfg, w, nil) }

func start(cfg Config, w io.Writer, out *file) *Logger {
	n := uint64(64)
	for n < uint64(cfg.Buffer) {
		n <<= 1
	}
	l := &Logger{
		cells: make([]cell, n), mask: n - 1, half: n / 2,
		sample: uint64(max(cfg.Sample, 1)), slow: cfg.Slow, interval: cfg.FlushInterval,
		format: appendJSON, w: w, out: out,
		wake: make(chan struct{}, 1), reopen: make(chan chan error), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if cfg.Format == FormatCombined {
		l.format = appendCombined
	}
	if l.interval <= 0 {
		l.interval = 100 * time.Millisecond
	}
	for i := range l.cells {
		l.cells[i].seq.Store(uint64(i))
	}
	go l.run()
	return l
}

// Reserve returns an empty entry to fill and Commit, or nil when l is nil
// or the ring is full (the drop is counted). It never blocks.
func (l *Logger) Reserve() *Entry {
	if l == nil {
		return nil
	}
	for {
		pos := l.enq.Load()
		c := &l.cells[pos&l.mask]
		switch d := int64(c.seq.Load() - pos); {
		case d == 0:
			if l.enq.CompareAndSwap(pos, pos+1) {
				c.e.reset()
				c.e.pos = pos
				return &c.e
			}
		case d < 0: // the writer has not freed this cell yet: full
			l.dropped.Add(1)
			return nil
		}
	}
}

// Commit hands a reserved entry to the writer. The entry must not be
// touched after.
func (l *Logger) Commit(e *Entry) {
	pos := e.pos
	l.cells[pos&l.mask].seq.Store(pos + 1)
	if pos-l.seen.Load() >= l.half {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// Stats returns the counts so far.
func (l *Logger) Stats() Stats {
	return Stats{Written: l.written.Load(), Dropped: l.dropped.Load(), WriteErrors: l.writeErrors.Load(), Lost: l.lost.Load()}
}

// Err returns the last write or reopen error, or nil.
func (l *Logger) Err() error {
	if p := l.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Close writes what is queued, stops the writer and closes the file (not
// standard output). Entries reserved after Close are never written.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.once.Do(func() { close(l.stop) })
	<-l.done
	if l.out != nil {
		return l.out.Close()
	}
	return nil
}

// Reopen makes the writer close and reopen its output file between two
// batches (after logrotate moved it: SIGUSR1); without a file it does
// nothing. It returns the reopen's error; the old file stays in use then.
func (l *Logger) Reopen() error {
	if l == nil || l.out == nil {
		return nil
	}
	res := make(chan error, 1)
	select {
	case l.reopen <- res:
		return <-res
	case <-l.done:
		return errors.New("accesslog: closed")
	}
}

// run is the writer: it wakes every flush interval, or when the ring is
// half full, and writes every committed entry in one batch.
func (l *Logger) run() {
	defer close(l.done)
	t := time.NewTicker(l.interval)
	defer t.Stop()
	var buf []byte
	var pos uint64
	for {
		select {
		case <-l.stop:
			l.drain(&buf, &pos)
			return
		case res := <-l.reopen:
			l.drain(&buf, &pos)
			res <- l.out.reopen()
		case <-t.C:
			l.drain(&buf, &pos)
		case <-l.wake:
			l.drain(&buf, &pos)
		}
	}
}

// batchBytes: a batch is written in chunks of about this size.
const batchBytes = 64 << 10

// drain formats and writes the committed entries from *pos on.
func (l *Logger) drain(buf *[]byte, pos *uint64) {
	b, p, n := (*buf)[:0], *pos, uint64(0)
	for {
		c := &l.cells[p&l.mask]
		if c.seq.Load() != p+1 {
			break // empty, or its producer is still filling it
		}
		b = l.format(b, &c.e)
		c.seq.Store(p + l.mask + 1)
		p++
		n++
		if len(b) >= batchBytes {
			l.write(b, n)
			b, n = b[:0], 0
			l.seen.Store(p)
		}
	}
	if len(b) > 0 {
		l.write(b, n)
	}
	l.seen.Store(p)
	if cap(b) > 4*batchBytes {
		b = nil
	}
	*buf, *pos = b, p
}

func (l *Logger) write(b []byte, lines uint64) {
	if _, err := l.w.Write(b); err != nil {
		l.writeErrors.Add(1)
		l.lost.Add(lines)
		err = fmt.Errorf("accesslog: write: %w", err)
		l.lastErr.Store(&err)
		return
	}
	l.written.Add(lines)
}
