//go:build linux && !noevloop

package evloop

import (
	"strings"
	"testing"
	"time"
)

// A head at the size limit arriving one byte at a time is parsed a few
// times in all, not once per read: the loop resumes its search for the
// end of the head where the last read left it.
func TestServerHeadOneByteAtATimeParsedOnce(t *testing.T) {
	ts := startServer(t, nil, Config{Loops: 1}, nil)
	c := dialT(t, ts.addr)
	c.SetNoDelay(true)
	req := get("/fast?i=1", "X-Pad: ")
	req = get("/fast?i=1", "X-Pad: "+strings.Repeat("p", 8<<10-len(req)))
	if len(req) != 8<<10 {
		t.Fatalf("head of %d bytes", len(req))
	}
	for i := range len(req) {
		c.send(t, req[i:i+1])
	}
	c.expect(t, "GET", "fast 1", false)
	if err := shutdown(ts.Server, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if p := ts.loops[0].parses; p > 3 {
		t.Errorf("%d parses of one head sent a byte at a time, want at most 3", p)
	}
}
