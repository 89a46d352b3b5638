// Package scrape reads the gateway's admin /metrics (Prometheus text
// format, parsed with prometheus/common/expfmt) for the few series a soak
// test watches: resident memory, goroutines, image cache bytes and image
// answers by where they came from. A Watcher scrapes at an interval for
// the length of a run. Series the target does not export are reported as
// absent, not zero.
package scrape

import (
	"context"
	"fmt"
	"math"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Names of the watched series, as the gateway exports them.
const (
	RSS        = "process_resident_memory_bytes"
	Goroutines = "go_goroutines"
	CacheBytes = "edgegate_image_cache_bytes"
	// ImageRequests counts image answers by the label Result: ResultHit
	// (in-process cache), ResultStored (the S3 write-back tier) or
	// ResultMiss (rendered).
	ImageRequests = "edgegate_image_requests_total"
)

// ImageRequests' label and its values.
const (
	Result       = "result"
	ResultHit    = "hit"
	ResultMiss   = "miss"
	ResultStored = "stored"
)

// Names lists every series Fetch reads.
func Names() []string { return []string{RSS, Goroutines, CacheBytes, ImageRequests} }

// acceptText asks for the text format, the one Fetch parses.
const acceptText = "text/plain;version=" + expfmt.TextVersion

// Sample is one scrape. Pointer fields are nil when the target does not
// export the series.
type Sample struct {
	// T is seconds since the run started.
	T          float64  `json:"t_s"`
	RSSBytes   *float64 `json:"rss_bytes,omitempty"`
	Goroutines *float64 `json:"goroutines,omitempty"`
	CacheBytes *float64 `json:"image_cache_bytes,omitempty"`
	// Hits, Misses and Stored are the image answers so far by result.
	// The gateway exports the counter once it has answered an image; a
	// result it has not served yet counts 0.
	Hits   *float64 `json:"image_cache_hits,omitempty"`
	Misses *float64 `json:"image_cache_misses,omitempty"`
	Stored *float64 `json:"image_cache_stored,omitempty"`
	// HitRatio is the in-process cache's hit ratio since the previous
	// sample (the first sample: since the gateway started): hits over all
	// image answers. An answer from the S3 write-back tier (stored) is not
	// rendered, but it is a miss of the in-process cache and counts as
	// one, as X-Cache: STORED does in the run's own hit ratio.
	HitRatio *float64 `json:"image_cache_hit_ratio,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// Fetch scrapes url once and extracts the watched series. A malformed
// exposition is an error.
func Fetch(ctx context.Context, c *http.Client, url string) (Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Sample{}, fmt.Errorf("scrape: %w", err)
	}
	req.Header.Set("Accept", acceptText)
	resp, err := c.Do(req)
	if err != nil {
		return Sample{}, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Sample{}, fmt.Errorf("scrape: %s: status %d", url, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return Sample{}, fmt.Errorf("scrape: %s: %w", url, err)
	}
	s := Sample{
		RSSBytes:   sum(fams[RSS], "", ""),
		Goroutines: sum(fams[Goroutines], "", ""),
		CacheBytes: sum(fams[CacheBytes], "", ""),
	}
	if f := fams[ImageRequests]; f != nil {
		zero := func(v *float64) *float64 {
			if v == nil {
				v = new(float64)
			}
			return v
		}
		s.Hits = zero(sum(f, Result, ResultHit))
		s.Misses = zero(sum(f, Result, ResultMiss))
		s.Stored = zero(sum(f, Result, ResultStored))
	}
	return s, nil
}

// sum adds up the values of f's series whose label has value (every
// series when label is ""). It is nil when f is nil or no series matches.
// Only counters, gauges and untyped series have a single value; the
// others are not summed, nor are NaN values.
func sum(f *dto.MetricFamily, label, value string) *float64 {
	var total float64
	found := false
	for _, m := range f.GetMetric() {
		if label != "" && labelValue(m, label) != value {
			continue
		}
		var v float64
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			v = m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			v = m.GetGauge().GetValue()
		case dto.MetricType_UNTYPED:
			v = m.GetUntyped().GetValue()
		default:
			continue
		}
		if math.IsNaN(v) {
			continue
		}
		total += v
		found = true
	}
	if !found {
		return nil
	}
	return &total
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
