package accesslog

import (
	"testing"
	"time"
)

func TestSampling(t *testing.T) {
	cfg := testConfig()
	cfg.Sample, cfg.Slow = 10, 500*time.Millisecond
	l := New(cfg, &syncBuffer{})
	defer l.Close()
	for _, tc := range []struct {
		name   string
		status int
		took   time.Duration
		always bool
	}{
		{"400 always", 400, 0, true},
		{"404 always", 404, 0, true},
		{"503 always", 503, 0, true},
		{"slow always", 200, 500 * time.Millisecond, true},
		{"302 sampled", 302, time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			const tries = 20000
			for range tries {
				if l.Sampled(tc.status, tc.took) {
					n++
				}
			}
			if tc.always && n != tries {
				t.Fatalf("logged %d of %d, want all", n, tries)
			}
			if !tc.always && (n < tries/20 || n > tries/5) { // 1 in 10 expected: 2000 ± far more than noise
				t.Fatalf("logged %d of %d, want about 1 in 10", n, tries)
			}
		})
	}
	one := testConfig()
	l1 := New(one, &syncBuffer{})
	defer l1.Close()
	for range 1000 {
		if !l1.Sampled(200, 0) {
			t.Fatal("sample 1 must log every answer")
		}
	}
}
