package stats

import (
	"math"
	"testing"
	"time"
)

func TestMergeEqualsRecordingTogether(t *testing.T) {
	a, b, all := New(), New(), New()
	for i := 1; i <= 1000; i++ {
		r := Result{Name: "x", Latency: time.Duration(i) * time.Millisecond, Service: time.Millisecond, Status: 200, XCache: "HIT"}
		if i%10 == 0 {
			r.Status, r.XCache = 503, "MISS"
		}
		if i%2 == 0 {
			a.Record(r)
		} else {
			b.Record(r)
		}
		all.Record(r)
	}
	a.Merge(b)
	got, want := a.Summary(), all.Summary()
	if got.Latency != want.Latency {
		t.Errorf("merged percentiles %+v, want %+v", got.Latency, want.Latency)
	}
	if got.Requests != 1000 || got.Errors != 100 || got.ErrorsByStatus["503"] != 100 || got.ErrorsByCause[CauseStatus] != 100 {
		t.Errorf("merged counts %+v", got)
	}
	if got.HitRatio == nil || math.Abs(*got.HitRatio-0.9) > 1e-9 {
		t.Errorf("hit ratio %v, want 0.9", got.HitRatio)
	}
	// p50 of 1..1000 ms is 500 ms within HdrHistogram's 3 significant figures.
	if p := got.Latency.P50; math.Abs(p-500) > 1 {
		t.Errorf("p50 = %v ms, want 500", p)
	}
	if p := got.Latency.Max; math.Abs(p-1000) > 1 {
		t.Errorf("max = %v ms, want 1000", p)
	}
}

func TestRecordClassifies(t *testing.T) {
	tests := []struct {
		name   string
		r      Result
		ok     bool
		cause  string
		status string
	}{
		{"200 ok", Result{Status: 200}, true, "", "200"},
		{"302 redirect is success", Result{Status: 302}, true, "", "302"},
		{"304 is success", Result{Status: 304}, true, "", "304"},
		{"404 is an error by status", Result{Status: 404}, false, CauseStatus, "404"},
		{"transport error has a cause", Result{Cause: "timeout"}, false, "timeout", ""},
		{"body read error after 200", Result{Status: 200, Cause: "body read"}, false, "body read", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New()
			s.Record(tt.r)
			sum := s.Summary()
			if (sum.Successes == 1) != tt.ok {
				t.Fatalf("success = %v, want %v", sum.Successes == 1, tt.ok)
			}
			if tt.cause != "" && sum.ErrorsByCause[tt.cause] != 1 {
				t.Fatalf("causes %v, want %q", sum.ErrorsByCause, tt.cause)
			}
			if tt.status != "" && !tt.ok && sum.ErrorsByStatus[tt.status] != 1 {
				t.Fatalf("errors by status %v, want %s", sum.ErrorsByStatus, tt.status)
			}
		})
	}
}

func TestHugeLatencyIsClamped(t *testing.T) {
	s := New()
	s.Record(Result{Status: 200, Latency: 3 * time.Hour})
	if got := s.Summary().Latency.Max; got < 3599000 {
		t.Fatalf("max = %v ms, want clamped to about an hour", got)
	}
}

func TestDistributionIsMonotonic(t *testing.T) {
	s := New()
	for i := 1; i <= 10000; i++ {
		s.Record(Result{Status: 200, Latency: time.Duration(i) * time.Microsecond * 10})
	}
	d := Distribution(s.Latency)
	if len(d) < 50 || d[len(d)-1].Percentile != 100 {
		t.Fatalf("distribution has %d points, last %+v", len(d), d[len(d)-1])
	}
	for i := 1; i < len(d); i++ {
		if d[i].Millis < d[i-1].Millis || d[i].Percentile < d[i-1].Percentile {
			t.Fatalf("not monotonic at %d: %+v then %+v", i, d[i-1], d[i])
		}
	}
}
