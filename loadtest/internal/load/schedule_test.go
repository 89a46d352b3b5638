package load

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A slow target behind a bounded worker pool must show the queueing delay
// in latency (measured from the intended send time), and the schedule must
// account for the sends that were late or never made.
func TestOpenLoopCountsQueueingDelay(t *testing.T) {
	const service = 20 * time.Millisecond
	var (
		mu        sync.Mutex
		latencies []time.Duration
		seqs      []uint64
	)
	do := func(_ context.Context, j Job) {
		time.Sleep(service) // one worker: at most 50/s
		mu.Lock()
		latencies = append(latencies, time.Since(j.Intended))
		seqs = append(seqs, j.Seq)
		mu.Unlock()
	}
	cfg := OpenLoopConfig{Rate: 200, Duration: 500 * time.Millisecond, MaxInFlight: 1}
	acc, err := OpenLoop(context.Background(), cfg, do, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Intended != 100 {
		t.Errorf("intended = %d, want 100 (200/s for 0.5s)", acc.Intended)
	}
	if acc.Sent+acc.Missed != acc.Intended {
		t.Errorf("sent %d + missed %d != intended %d", acc.Sent, acc.Missed, acc.Intended)
	}
	if acc.Sent > 40 || acc.Missed < 50 {
		t.Errorf("a 50/s target at 200/s: sent %d, missed %d; want most sends missed", acc.Sent, acc.Missed)
	}
	if acc.Late == 0 || acc.MaxLagMs < 100 {
		t.Errorf("late = %d, max lag %.1fms; want late sends", acc.Late, acc.MaxLagMs)
	}
	if acc.Workers != 1 {
		t.Errorf("workers = %d, want 1", acc.Workers)
	}
	if uint64(len(latencies)) != acc.Sent {
		t.Fatalf("%d completions for %d sends", len(latencies), acc.Sent)
	}
	// Job k (k >= 1) is sent only after k services; its intended time was
	// k*5ms, so its latency is about k*(20-5)ms + 20ms. The last ones must
	// show far more than the 20ms service time.
	maxLat := time.Duration(0)
	for _, l := range latencies {
		maxLat = max(maxLat, l)
	}
	if maxLat < 10*service {
		t.Errorf("max latency %v: queueing delay is hidden (service time %v)", maxLat, service)
	}
	for i, s := range seqs {
		if s != uint64(i) {
			t.Fatalf("jobs ran out of order: %v", seqs)
		}
	}
}

// A fast target: every send on time, none missed, latency near service time.
func TestOpenLoopOnTime(t *testing.T) {
	var n atomic.Int64
	var worst atomic.Int64
	do := func(_ context.Context, j Job) {
		time.Sleep(time.Millisecond)
		n.Add(1)
		l := int64(time.Since(j.Intended))
		for {
			w := worst.Load()
			if l <= w || worst.CompareAndSwap(w, l) {
				break
			}
		}
	}
	acc, err := OpenLoop(context.Background(), OpenLoopConfig{Rate: 100, Duration: 300 * time.Millisecond, LateAfter: 250 * time.Millisecond}, do, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Intended != 30 || acc.Sent != 30 || acc.Missed != 0 || n.Load() != 30 {
		t.Errorf("accounting %+v, completed %d; want all 30 sent", acc, n.Load())
	}
	if acc.Late != 0 {
		t.Errorf("late = %d on an idle scheduler", acc.Late)
	}
	// Room for a loaded CI box.
	if w := time.Duration(worst.Load()); w > 250*time.Millisecond {
		t.Errorf("worst latency %v for a 1ms target", w)
	}
}

func TestOpenLoopStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	acc, err := OpenLoop(ctx, OpenLoopConfig{Rate: 100, Duration: time.Minute}, func(context.Context, Job) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("ran %v after cancel", el)
	}
	if acc.Intended > 20 || acc.Sent == 0 || acc.Intended < acc.Sent {
		t.Fatalf("accounting after cancel at 0.1s: %+v", acc)
	}
}

func TestClosedLoop(t *testing.T) {
	var inFlight, peak, total atomic.Int64
	do := func(_ context.Context, _ Job) {
		cur := inFlight.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		inFlight.Add(-1)
		total.Add(1)
	}
	acc, err := ClosedLoop(context.Background(), 4, 200*time.Millisecond, do)
	if err != nil {
		t.Fatal(err)
	}
	if peak.Load() != 4 {
		t.Errorf("peak concurrency %d, want 4 workers", peak.Load())
	}
	if acc.Sent != uint64(total.Load()) || acc.Sent < 40 {
		t.Errorf("sent %d, completed %d", acc.Sent, total.Load())
	}
	if _, err := ClosedLoop(context.Background(), 0, time.Second, do); err == nil {
		t.Error("0 workers accepted")
	}
}

func TestOpenLoopConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  OpenLoopConfig
		ok   bool
	}{
		{"defaults filled", OpenLoopConfig{Rate: 1, Duration: time.Second}, true},
		{"zero rate", OpenLoopConfig{Duration: time.Second}, false},
		{"zero duration", OpenLoopConfig{Rate: 1}, false},
		{"negative in-flight", OpenLoopConfig{Rate: 1, Duration: time.Second, MaxInFlight: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && (tt.cfg.MaxInFlight != 4096 || tt.cfg.LateAfter != 5*time.Millisecond) {
				t.Fatalf("defaults not filled: %+v", tt.cfg)
			}
		})
	}
}
