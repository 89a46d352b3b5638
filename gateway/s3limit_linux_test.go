//go:build linux && !noevloop

package gateway

import (
	"bytes"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// On the event loops each request whose existence check must ask S3 runs
// on a goroutine: past exists.max_waiting of them a request is answered
// 503 at once, on the loop, and the count comes back to zero afterwards.
func TestLoopShedsPastMaxWaiting(t *testing.T) {
	g := startGateway(t, demoRules(t), func(c *Config) {
		c.Exists.MaxWaiting = 1
		c.S3.MaxConcurrent = 1
		c.S3.QueueWait = 5 * time.Second // S3 queues rather than sheds: the loop bound does
	})
	answers := flood(g, 16, 5)
	shed := checkShed(t, answers)
	waiting := 0
	for _, a := range answers {
		if a.status == 503 && bytes.Contains(a.body, []byte("waiting")) {
			waiting++
		}
	}
	t.Logf("%d of %d flood requests shed: %d past exists.max_waiting", shed, len(answers), waiting)
	if waiting == 0 {
		t.Fatalf("no request was shed past exists.max_waiting=1 (%d 503s in all)", shed)
	}
	if n := testutil.ToFloat64(g.srv.metrics.offLoopShed); n != float64(waiting) {
		t.Errorf("edgegate_loop_shed_total = %v, want %d", n, waiting)
	}
	waitFor(t, 5*time.Second, "no request waiting off-loop", func() bool { return g.srv.offLoop.Load() == 0 })
	if g.srv.store.Shed() != 0 {
		t.Errorf("S3 shed %d requests; with a 5s queue wait it should not", g.srv.store.Shed())
	}
}
