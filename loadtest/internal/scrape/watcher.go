package scrape

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Watcher scrapes a metrics URL at an interval. Safe for concurrent use;
// Run is called once.
type Watcher struct {
	client *http.Client
	url    string
	every  time.Duration
	start  time.Time

	mu      sync.Mutex
	samples []Sample
}

// NewWatcher returns a Watcher of url every interval (at least 100ms).
func NewWatcher(c *http.Client, url string, every time.Duration) (*Watcher, error) {
	if every < 100*time.Millisecond {
		return nil, fmt.Errorf("scrape: interval %v is below 100ms", every)
	}
	return &Watcher{client: c, url: url, every: every}, nil
}

// Run samples now, then every interval until ctx ends, then once more.
func (w *Watcher) Run(ctx context.Context) {
	w.start = time.Now()
	w.sample(ctx, false)
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			w.sample(final, true)
			cancel()
			return
		case <-t.C:
			w.sample(ctx, false)
		}
	}
}

// sample scrapes once and records the result. A scrape before the final
// one that fails because ctx ended (the run is over: the scrape was under
// way, or a tick and the end came together) is not a failed scrape; it is
// dropped, and the final sample follows at once.
func (w *Watcher) sample(ctx context.Context, final bool) {
	s, err := Fetch(ctx, w.client, w.url)
	if err != nil && !final && ctx.Err() != nil {
		return
	}
	s.T = time.Since(w.start).Seconds()
	if err != nil {
		s.Error = err.Error()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var prev *Sample
	for i := len(w.samples) - 1; i >= 0; i-- {
		if w.samples[i].Hits != nil {
			prev = &w.samples[i]
			break
		}
	}
	s.HitRatio = hitRatio(s, prev)
	w.samples = append(w.samples, s)
}

// hitRatio is s's hits over all its image answers since prev (since the
// gateway started when prev is nil, or when a counter went down: the
// gateway restarted). It is nil when s has no image counts or there were
// no answers. Fetch sets Hits, Misses and Stored together.
func hitRatio(s Sample, prev *Sample) *float64 {
	if s.Hits == nil {
		return nil
	}
	h, m, st := *s.Hits, *s.Misses, *s.Stored
	if prev != nil && h >= *prev.Hits && m >= *prev.Misses && st >= *prev.Stored {
		h, m, st = h-*prev.Hits, m-*prev.Misses, st-*prev.Stored
	}
	if h+m+st <= 0 {
		return nil
	}
	r := h / (h + m + st)
	return &r
}

// Samples returns a copy of the samples so far.
func (w *Watcher) Samples() []Sample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Sample(nil), w.samples...)
}
