// Package stats accumulates load-test results: HdrHistogram latency
// percentiles, counts by status and by error cause, X-Cache values and GeoIP
// locations. A Stats is not safe for concurrent use: give each goroutine its
// own and Merge them.
package stats

import (
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: 1µs to 1h at 3 significant figures. Values are recorded
// in microseconds; larger values are clamped to the maximum.
const (
	minMicros = 1
	maxMicros = int64(time.Hour / time.Microsecond)
	sigFigs   = 3
)

// Result is one completed request as the scheduler saw it.
type Result struct {
	Name string // scenario request name
	// Latency is from the intended send time to the end of the response
	// body (includes any queueing in the load generator).
	Latency time.Duration
	// Service is from the actual send to the end of the response body.
	Service  time.Duration
	Status   int    // 0 when no response
	Cause    string // "" on success; see Cause* constants
	XCache   string // X-Cache response header, if any
	Bytes    int64  // response body bytes
	Location string // GeoIP label of the sampled client, if any
}

// Success reports whether a status counts as a success: 2xx and 3xx
// (redirects are not followed; a 302 is the route endpoint's answer).
func Success(status int) bool { return status >= 200 && status < 400 }

// Error causes.
const (
	CauseStatus = "http status" // a response outside 2xx/3xx
)

// Stats accumulates Results.
type Stats struct {
	Latency   *hdrhistogram.Histogram // µs from intended send
	Service   *hdrhistogram.Histogram // µs from actual send
	Requests  uint64
	OK        uint64
	Errors    uint64
	Bytes     uint64
	Status    map[int]uint64
	Causes    map[string]uint64
	XCache    map[string]uint64
	Locations map[string]uint64
}

// New returns empty Stats.
func New() *Stats {
	return &Stats{
		Latency:   hdrhistogram.New(minMicros, maxMicros, sigFigs),
		Service:   hdrhistogram.New(minMicros, maxMicros, sigFigs),
		Status:    map[int]uint64{},
		Causes:    map[string]uint64{},
		XCache:    map[string]uint64{},
		Locations: map[string]uint64{},
	}
}

func micros(d time.Duration) int64 {
	us := d.Microseconds()
	return min(max(us, minMicros), maxMicros)
}

// Record adds one result.
func (s *Stats) Record(r Result) {
	s.Requests++
	_ = s.Latency.RecordValue(micros(r.Latency)) // clamped: cannot fail
	_ = s.Service.RecordValue(micros(r.Service))
	if r.Status != 0 {
		s.Status[r.Status]++
	}
	if r.Cause == "" && Success(r.Status) {
		s.OK++
	} else {
		s.Errors++
		cause := r.Cause
		if cause == "" {
			cause = CauseStatus
		}
		s.Causes[cause]++
	}
	if r.XCache != "" {
		s.XCache[r.XCache]++
	}
	if r.Location != "" {
		s.Locations[r.Location]++
	}
	s.Bytes += uint64(max(r.Bytes, 0))
}

// Merge adds o into s.
func (s *Stats) Merge(o *Stats) {
	s.Latency.Merge(o.Latency)
	s.Service.Merge(o.Service)
	s.Requests += o.Requests
	s.OK += o.OK
	s.Errors += o.Errors
	s.Bytes += o.Bytes
	for k, v := range o.Status {
		s.Status[k] += v
	}
	for k, v := range o.Causes {
		s.Causes[k] += v
	}
	for k, v := range o.XCache {
		s.XCache[k] += v
	}
	for k, v := range o.Locations {
		s.Locations[k] += v
	}
}

// HitRatio is HIT / (all X-Cache values), or nil when no response carried
// X-Cache.
func (s *Stats) HitRatio() *float64 {
	var total uint64
	for _, v := range s.XCache {
		total += v
	}
	if total == 0 {
		return nil
	}
	r := float64(s.XCache["HIT"]) / float64(total)
	return &r
}

// Percentiles are latencies in milliseconds.
type Percentiles struct {
	Min  float64 `json:"min_ms"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
	Max  float64 `json:"max_ms"`
}

// PercentilesOf summarises a histogram recorded in microseconds.
func PercentilesOf(h *hdrhistogram.Histogram) Percentiles {
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Percentiles{
		Min:  ms(h.Min()),
		Mean: math.Round(h.Mean()) / 1000,
		P50:  ms(h.ValueAtQuantile(50)),
		P90:  ms(h.ValueAtQuantile(90)),
		P99:  ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)),
		Max:  ms(h.Max()),
	}
}

// Summary is the JSON form of Stats.
type Summary struct {
	Requests       uint64            `json:"requests"`
	Successes      uint64            `json:"successes"`
	Errors         uint64            `json:"errors"`
	ErrorRate      float64           `json:"error_rate"`
	BytesIn        uint64            `json:"bytes_in"`
	Latency        Percentiles       `json:"latency"`
	ServiceTime    Percentiles       `json:"service_time"`
	Status         map[string]uint64 `json:"status"`
	ErrorsByStatus map[string]uint64 `json:"errors_by_status"`
	ErrorsByCause  map[string]uint64 `json:"errors_by_cause"`
	XCache         map[string]uint64 `json:"x_cache,omitempty"`
	HitRatio       *float64          `json:"hit_ratio,omitempty"`
	Locations      map[string]uint64 `json:"locations,omitempty"`
}

// Summary returns the JSON form.
func (s *Stats) Summary() Summary {
	sum := Summary{
		Requests:       s.Requests,
		Successes:      s.OK,
		Errors:         s.Errors,
		BytesIn:        s.Bytes,
		Latency:        PercentilesOf(s.Latency),
		ServiceTime:    PercentilesOf(s.Service),
		Status:         map[string]uint64{},
		ErrorsByStatus: map[string]uint64{},
		ErrorsByCause:  copyMap(s.Causes),
		XCache:         copyMap(s.XCache),
		HitRatio:       s.HitRatio(),
		Locations:      copyMap(s.Locations),
	}
	if s.Requests > 0 {
		sum.ErrorRate = float64(s.Errors) / float64(s.Requests)
	}
	for code, n := range s.Status {
		sum.Status[strconv.Itoa(code)] = n
		if !Success(code) {
			sum.ErrorsByStatus[strconv.Itoa(code)] = n
		}
	}
	return sum
}

func copyMap(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Point is one point of a percentile distribution plot.
type Point struct {
	Percentile float64 `json:"percentile"`
	Millis     float64 `json:"ms"`
}

// Distribution samples latency at percentiles spaced evenly on the
// 1/(1-p) log scale HdrHistogram plots use, from p0 to p99.999 and max.
func Distribution(h *hdrhistogram.Histogram) []Point {
	if h.TotalCount() == 0 {
		return nil
	}
	var pts []Point
	for i := 0; i <= 100; i++ {
		// x = log10(1/(1-p)) from 0 to 5.
		x := float64(i) * 5 / 100
		p := 100 * (1 - math.Pow(10, -x))
		pts = append(pts, Point{Percentile: p, Millis: float64(h.ValueAtQuantile(p)) / 1000})
	}
	pts = append(pts, Point{Percentile: 100, Millis: float64(h.Max()) / 1000})
	return pts
}

// SortedKeys returns the keys of m, largest count first.
func SortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}
