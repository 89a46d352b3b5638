// Package promtext scrapes a Prometheus text endpoint (the gateway's admin
// /metrics) for the few series a soak test watches: resident memory,
// goroutines, image cache bytes and hits/misses. It parses only the text
// exposition format's sample lines, summing a metric over its label sets;
// series the gateway does not export are reported as absent, not zero.
package promtext

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Watched metric names.
const (
	RSS         = "process_resident_memory_bytes"
	Goroutines  = "go_goroutines"
	CacheBytes  = "edgegate_image_cache_bytes"
	CacheHits   = "edgegate_image_cache_hits_total"
	CacheMisses = "edgegate_image_cache_misses_total"
)

// Parse reads text exposition format and returns each metric name's sum
// over its label sets. Comments, blank lines and unparsable values are
// skipped.
func Parse(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ \t"); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			j := closingBrace(rest)
			if j < 0 {
				continue
			}
			rest = rest[j+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil || math.IsNaN(v) {
			continue
		}
		out[name] += v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("promtext: %w", err)
	}
	return out, nil
}

// closingBrace finds the '}' ending a label set, skipping quoted values.
func closingBrace(s string) int {
	inQuote := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == '}':
			return i
		}
	}
	return -1
}

// Sample is one scrape. Pointer fields are nil when the gateway does not
// export the series.
type Sample struct {
	// T is seconds since the run started.
	T          float64  `json:"t_s"`
	RSSBytes   *float64 `json:"rss_bytes,omitempty"`
	Goroutines *float64 `json:"goroutines,omitempty"`
	CacheBytes *float64 `json:"image_cache_bytes,omitempty"`
	Hits       *float64 `json:"image_cache_hits,omitempty"`
	Misses     *float64 `json:"image_cache_misses,omitempty"`
	// HitRatio is hits/(hits+misses) since the previous sample (the
	// first sample: since the gateway started).
	HitRatio *float64 `json:"image_cache_hit_ratio,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// Scrape fetches url and extracts the watched series.
func Scrape(ctx context.Context, c *http.Client, url string) (Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Sample{}, fmt.Errorf("promtext: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return Sample{}, fmt.Errorf("promtext: scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Sample{}, fmt.Errorf("promtext: scrape %s: status %d", url, resp.StatusCode)
	}
	m, err := Parse(resp.Body)
	if err != nil {
		return Sample{}, err
	}
	get := func(name string) *float64 {
		if v, ok := m[name]; ok {
			return &v
		}
		return nil
	}
	return Sample{
		RSSBytes:   get(RSS),
		Goroutines: get(Goroutines),
		CacheBytes: get(CacheBytes),
		Hits:       get(CacheHits),
		Misses:     get(CacheMisses),
	}, nil
}

// Watcher scrapes a metrics URL at an interval. Safe for concurrent use.
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
		return nil, fmt.Errorf("promtext: interval %v is below 100ms", every)
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
	s, err := Scrape(ctx, w.client, w.url)
	if err != nil && !final && ctx.Err() != nil {
		return
	}
	s.T = time.Since(w.start).Seconds()
	if err != nil {
		s.Error = err.Error()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.Hits != nil && s.Misses != nil {
		h, m := *s.Hits, *s.Misses
		for i := len(w.samples) - 1; i >= 0; i-- {
			if p := w.samples[i]; p.Hits != nil && p.Misses != nil {
				h, m = h-*p.Hits, m-*p.Misses
				break
			}
		}
		if h+m > 0 {
			r := h / (h + m)
			s.HitRatio = &r
		}
	}
	w.samples = append(w.samples, s)
}

// Samples returns a copy of the samples so far.
func (w *Watcher) Samples() []Sample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Sample(nil), w.samples...)
}
