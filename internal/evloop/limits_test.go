//go:build linux && !noevloop

package evloop

import (
	"bufio"
	"net"
	"net/netip"
	"testing"
	"time"
)

// dialFrom dials addr from the loopback address local (127.0.0.x), so
// one test can be several clients.
func dialFrom(t *testing.T, local, addr string) *tclient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(clientDeadline))
	return &tclient{TCPConn: c.(*net.TCPConn), br: bufio.NewReader(c)}
}

// At the cap, a new connection is admitted by closing the longest-idle
// one; the others keep being served.
func TestLimitsEvictOldestIdle(t *testing.T) {
	lim := NewLimits(3, 0, nil)
	ts := startServer(t, nil, Config{Loops: 1, Limits: lim}, nil)
	var cs []*tclient
	for i := range 3 {
		c := dialT(t, ts.addr)
		c.send(t, get("/fast?i=1"))
		c.expect(t, "GET", "fast 1", false)
		cs = append(cs, c)
		if i < 2 {
			time.Sleep(2 * time.Millisecond) // distinct idle-since times
		}
	}
	waitStats(t, ts.Server, "3 open", func(st Stats) bool { return st.Open == 3 })
	d := dialT(t, ts.addr)
	d.send(t, get("/fast?i=2"))
	d.expect(t, "GET", "fast 2", false)
	cs[0].expectClosed(t)
	for _, c := range cs[1:] {
		c.send(t, get("/fast?i=3"))
		c.expect(t, "GET", "fast 3", false)
	}
	if st := lim.Stats(); st.Evicted != 1 || st.RefusedFull != 0 || st.Open != 3 {
		t.Errorf("stats %+v, want 1 evicted, 0 refused, 3 open", st)
	}
	if n := lim.Open(); n != 3 {
		t.Errorf("Limits.Open = %d, want 3", n)
	}
}

// At the cap with no idle connection to close, the new one is closed.
func TestLimitsFullRefuses(t *testing.T) {
	h := &testHandler{hang: make(chan struct{}), hanging: make(chan struct{}, 1)}
	defer close(h.hang)
	lim := NewLimits(1, 0, nil)
	ts := startServer(t, h, Config{Loops: 1, Limits: lim}, nil)
	a := dialT(t, ts.addr)
	a.send(t, get("/hang"))
	<-h.hanging
	b := dialT(t, ts.addr)
	b.expectClosed(t)
	if st := lim.Stats(); st.RefusedFull != 1 || st.Evicted != 0 {
		t.Errorf("stats %+v, want 1 refused (full), none evicted", st)
	}
}

// A loop with no idle connection passes the new one on to the next
// loop, which makes room for it.
func TestLimitsNextLoopMakesRoom(t *testing.T) {
	h := &testHandler{hang: make(chan struct{}), hanging: make(chan struct{}, 1)}
	defer close(h.hang)
	lim := NewLimits(2, 0, nil)
	ts := startServer(t, h, Config{Loops: 2, Limits: lim}, nil)
	a := dialT(t, ts.addr) // loop 0, busy
	a.send(t, get("/hang"))
	<-h.hanging
	b := dialT(t, ts.addr) // loop 1, idle
	b.send(t, get("/fast?i=1"))
	b.expect(t, "GET", "fast 1", false)
	c := dialT(t, ts.addr) // loop 0 again: full, nothing idle there
	c.send(t, get("/fast?i=2"))
	c.expect(t, "GET", "fast 2", false)
	b.expectClosed(t)
	if st := lim.Stats(); st.Evicted != 1 || st.RefusedFull != 0 {
		t.Errorf("stats %+v, want 1 evicted, none refused", st)
	}
}

// Past the per-peer cap a new connection from that address is closed at
// once; other addresses, and exempt ones, are still served.
func TestLimitsPerPeer(t *testing.T) {
	exempt := netip.MustParseAddr("127.0.0.3")
	lim := NewLimits(0, 2, func(a netip.Addr) bool { return a == exempt })
	ts := startServer(t, nil, Config{Loops: 2, Limits: lim}, nil)
	for range 2 {
		c := dialFrom(t, "127.0.0.1", ts.addr)
		c.send(t, get("/fast?i=1"))
		c.expect(t, "GET", "fast 1", false)
	}
	dialFrom(t, "127.0.0.1", ts.addr).expectClosed(t)
	for _, from := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.3", "127.0.0.3"} {
		c := dialFrom(t, from, ts.addr)
		c.send(t, get("/fast?i=2"))
		c.expect(t, "GET", "fast 2", false)
	}
	if st := lim.Stats(); st.RefusedPeer != 1 {
		t.Errorf("stats %+v, want 1 refused per peer", st)
	}
}

// Limits count per peer and in all, and forget a peer with nothing open.
func TestLimitsCounting(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	l := NewLimits(3, 2, nil)
	steps := []struct {
		name    string
		acquire bool
		peer    netip.Addr
		want    bool
		open    int64
		over    bool
	}{
		{"a 1", true, a, true, 1, false},
		{"a 2", true, a, true, 2, false},
		{"a 3 refused", true, a, false, 2, false},
		{"b 1", true, b, true, 3, false},
		{"b 2 over the total", true, b, true, 4, true},
		{"b released", false, b, true, 3, false},
		{"a released", false, a, true, 2, false},
		{"a again", true, a, true, 3, false},
	}
	for _, s := range steps {
		got := true
		if s.acquire {
			got = l.Acquire(s.peer)
		} else {
			l.Release(s.peer)
		}
		if got != s.want || l.Open() != s.open || l.Over() != s.over {
			t.Fatalf("%s: got %v open %d over %v, want %v %d %v", s.name, got, l.Open(), l.Over(), s.want, s.open, s.over)
		}
	}
	var none *Limits
	if !none.Acquire(a) || none.Over() || none.Open() != 0 {
		t.Error("a nil *Limits must admit everything")
	}
	none.Release(a)
}
