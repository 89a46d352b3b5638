package uploads

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Lister lists one page of the keys under prefix that sort after
// startAfter, in order (S3 ListObjectsV2).
type Lister interface {
	List(ctx context.Context, prefix, startAfter string) (keys []string, truncated bool, err error)
}

// Layout names the run's keys: source seq is Prefix + %08d + SourceExt,
// and its variant for a folder is folder + source key + VariantExt (the
// gateway's write-back keys: thumbnails/global/x.jpg.jpg).
type Layout struct {
	Prefix     string   // the run's folder, ending in "/"
	SourceExt  string   // ".jpg"
	Folders    []string // one per preset: "thumbnails/", "medium/", "large/"
	VariantExt string   // ".jpg"
}

// Source is the key of source seq. Zero-padded, so that keys (and their
// variants' keys) sort in seq order.
func (l Layout) Source(seq uint64) string {
	return l.Prefix + fmt.Sprintf("%08d", seq) + l.SourceExt
}

// Variant is the key of source seq's variant in folder.
func (l Layout) Variant(folder string, seq uint64) string {
	return folder + l.Source(seq) + l.VariantExt
}

// Pending is one message whose variants are awaited.
type Pending struct {
	seq     uint64
	missing map[string]struct{} // variant keys not seen yet
	done    chan struct{}       // closed when none is missing
	at      time.Time           // when the last one was seen
}

// Done is closed once every variant has been seen.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Watcher sees the variants of watched sources appear by listing each
// variant folder every poll interval, from the oldest variant still
// awaited (so a listing holds the messages in flight, not the whole
// run). A variant is taken as visible when the listing that first holds
// it returns: the lag measured is late by at most the poll interval plus
// one listing. Safe for concurrent use.
type Watcher struct {
	l      Lister
	layout Layout

	mu      sync.Mutex
	bySeq   map[uint64]*Pending
	byKey   map[string]*Pending
	lists   uint64
	listErr error
}

// NewWatcher watches layout's variants through l.
func NewWatcher(l Lister, layout Layout) *Watcher {
	return &Watcher{l: l, layout: layout, bySeq: map[uint64]*Pending{}, byKey: map[string]*Pending{}}
}

// Watch starts awaiting source seq's variants; call it before the
// message is sent.
func (w *Watcher) Watch(seq uint64) *Pending {
	p := &Pending{seq: seq, missing: map[string]struct{}{}, done: make(chan struct{})}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.layout.Folders {
		k := w.layout.Variant(f, seq)
		p.missing[k] = struct{}{}
		w.byKey[k] = p
	}
	w.bySeq[seq] = p
	return p
}

// Seen returns when p's last variant was seen, and whether all were.
func (w *Watcher) Seen(p *Pending) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return p.at, len(p.missing) == 0
}

// Forget stops awaiting p (its deadline passed) and returns how many of
// its variants were never seen.
func (w *Watcher) Forget(p *Pending) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k := range p.missing {
		delete(w.byKey, k)
	}
	delete(w.bySeq, p.seq)
	return len(p.missing)
}

// Lists is how many listings were made; Err the last listing error.
func (w *Watcher) Lists() (uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lists, w.listErr
}

// Run polls every interval until ctx ends.
func (w *Watcher) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Poll(ctx)
		}
	}
}

// Poll lists every folder once, from its oldest awaited variant on.
func (w *Watcher) Poll(ctx context.Context) {
	for _, f := range w.layout.Folders {
		from, last, ok := w.window(f)
		if !ok {
			continue
		}
		after := ""
		if from > 0 {
			after = w.layout.Variant(f, from-1)
		}
		lastKey := w.layout.Variant(f, last)
		for ctx.Err() == nil {
			keys, more, err := w.l.List(ctx, f+w.layout.Prefix, after)
			now := time.Now()
			w.mu.Lock()
			w.lists++
			if err != nil {
				if ctx.Err() == nil {
					w.listErr = err
				}
				w.mu.Unlock()
				break
			}
			for _, k := range keys {
				p := w.byKey[k]
				if p == nil {
					continue
				}
				delete(w.byKey, k)
				delete(p.missing, k)
				if len(p.missing) == 0 {
					p.at = now
					delete(w.bySeq, p.seq)
					close(p.done)
				}
			}
			w.mu.Unlock()
			if !more || len(keys) == 0 || keys[len(keys)-1] >= lastKey {
				break
			}
			after = keys[len(keys)-1]
		}
	}
}

// window is the lowest and highest seq still awaiting a variant in
// folder f.
func (w *Watcher) window(f string) (from, last uint64, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for seq, p := range w.bySeq {
		if _, missing := p.missing[w.layout.Variant(f, seq)]; !missing {
			continue
		}
		if !ok || seq < from {
			from = seq
		}
		if !ok || seq > last {
			last = seq
		}
		ok = true
	}
	return from, last, ok
}

// Count lists every folder under the run's prefix and returns how many
// variants of sources 0..n-1 are stored.
func Count(ctx context.Context, l Lister, layout Layout, n uint64) (int, error) {
	want := map[string]bool{}
	for _, f := range layout.Folders {
		for seq := range n {
			want[layout.Variant(f, seq)] = true
		}
	}
	found := 0
	for _, f := range layout.Folders {
		after := ""
		for {
			keys, more, err := l.List(ctx, f+layout.Prefix, after)
			if err != nil {
				return found, err
			}
			for _, k := range keys {
				if want[k] {
					found++
				}
			}
			if !more || len(keys) == 0 {
				break
			}
			after = keys[len(keys)-1]
		}
	}
	return found, nil
}
