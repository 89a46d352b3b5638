package gateway

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// dialFrom opens a public connection from the loopback address local
// (127.0.0.x), so one test can be several clients. It sends nothing.
func dialFrom(t *testing.T, local, base string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expectClosed reads c: the gateway must have closed it with nothing said.
func expectClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil || (err != io.EOF && !strings.Contains(err.Error(), "reset")) {
		t.Fatalf("%s: read %d bytes, %v; want it closed", what, n, err)
	}
}

// A public listener full of idle connections still answers: new
// connections close the longest-idle ones, health on admin answers, and
// one address cannot take more than its share. Both transports.
func TestConnectionLimits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		loops int
	}{{"loops", 1}, {"fasthttp", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			const total, perIP = 16, 8
			g := startGateway(t, demoRules(t), func(c *Config) {
				c.EventLoops = tc.loops
				c.MaxConnections = total
				c.MaxConnectionsPerIP = perIP
			})
			fresh := &http.Client{
				Timeout:       time.Second, // the answer must not wait for a slot
				Transport:     &http.Transport{DisableKeepAlives: true},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
			ask := func(url string) {
				t.Helper()
				resp, err := fresh.Get(url)
				if err != nil {
					t.Fatalf("GET %s: %v", url, err)
				}
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					t.Fatalf("GET %s: %d", url, resp.StatusCode)
				}
			}
			cached := g.base + "/r/maps/tiles.zip?region=uk-london"
			ask(cached)
			cl := g.srv.conns
			waitFor(t, 5*time.Second, "the first connection closed", func() bool { return cl.lim.Open() == 0 })

			// Fill the listener with idle connections, half from each of
			// two addresses, one at a time so that their ages differ.
			var idle []net.Conn
			for i := range total {
				idle = append(idle, dialFrom(t, []string{"127.0.0.2", "127.0.0.3"}[i%2], g.base))
				waitFor(t, 5*time.Second, "the connection taken in", func() bool { return g.srv.idleConns() == i+1 })
			}
			// Over its share, an address's new connection is closed at once.
			expectClosed(t, dialFrom(t, "127.0.0.2", g.base), "a connection over the per-IP share")

			ask(g.admin + "/healthz")
			ask(cached)
			ask(g.base + "/r/maps/new-" + tc.name + ".zip?region=uk-london")
			expectClosed(t, idle[0], "the longest-idle connection")
			// The newest idle connection was kept, and is served.
			last := idle[len(idle)-1]
			last.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(last, "GET /r/maps/tiles.zip?region=uk-london HTTP/1.1\r\nHost: x\r\n\r\n")
			if b, err := io.ReadAll(io.LimitReader(last, 12)); err != nil || !strings.HasPrefix(string(b), "HTTP/1.1 ") {
				t.Fatalf("the newest idle connection: %q, %v", b, err)
			}

			st := cl.lim.Stats()
			if st.RefusedPeer != 1 || st.Evicted < 2 || st.RefusedFull != 0 {
				t.Errorf("limit stats %+v: want 1 refused per IP, ≥ 2 evicted, none refused full", st)
			}
			_, body := get(t, g.admin+"/metrics")
			for _, want := range []string{
				`edgegate_connections_refused_total{listener="plain",reason="per_ip"} 1`,
				`edgegate_connections_refused_total{listener="plain",reason="full"} 0`,
				`edgegate_connections_evicted_total `,
				`edgegate_connections_max 16`,
			} {
				if !strings.Contains(string(body), want) {
					t.Errorf("/metrics lacks %q", want)
				}
			}
		})
	}
}

// max_connections defaults to the open-file limit less the reserve; a
// value that leaves less than the reserve is refused.
func TestMaxConnections(t *testing.T) {
	for _, tc := range []struct {
		name        string
		max, nofile int
		want        int
		wantErr     bool
	}{
		{"default from the limit", 0, 400, 272, false},
		{"default, a large limit", 0, 1 << 20, 1<<20 - 1<<17, false},
		{"set", 100, 400, 100, false},
		{"set to all the room", 272, 400, 272, false},
		{"set past the reserve", 273, 400, 0, true},
		{"a limit with no room", 0, 128, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxConnections = tc.max
			got, err := maxConnections(cfg, tc.nofile)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("maxConnections(%d, nofile %d) = %d, %v; want %d, error %v", tc.max, tc.nofile, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// idleConns counts the public connections taken in and not yet closed:
// the loops', and fasthttp's idle ones.
func (s *Server) idleConns() int {
	s.conns.mu.Lock()
	defer s.conns.mu.Unlock()
	return int(s.loopStats().Open) + len(s.conns.idle)
}

// With the loops' connections busy or handed off, a new connection makes
// room by closing fasthttp's longest-idle one (connections the loops
// handed off and fasthttp keeps alive).
func TestConnectionLimitClosesHandedOffIdle(t *testing.T) {
	const total = 4
	g := startGateway(t, demoRules(t), func(c *Config) {
		c.EventLoops = 1
		c.MaxConnections = total
	})
	var idle []net.Conn
	for i := range total {
		c := dialFrom(t, "127.0.0.2", g.base)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		// Not /r/: handed off to fasthttp, which keeps it alive.
		io.WriteString(c, "GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufioReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.Close {
			t.Fatalf("connection %d: fasthttp closes it", i)
		}
		idle = append(idle, c)
		waitFor(t, 5*time.Second, "fasthttp to hold it idle", func() bool { return g.srv.idleConns() == i+1 })
	}
	fresh := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := fresh.Get(g.base + "/r/maps/tiles.zip?region=uk-london")
	if err != nil {
		t.Fatalf("a new connection with fasthttp's idle ones at the limit: %v", err)
	}
	resp.Body.Close()
	expectClosed(t, idle[0], "fasthttp's longest-idle connection")
	if st := g.srv.conns.lim.Stats(); st.Evicted < 1 || st.RefusedFull != 0 {
		t.Errorf("limit stats %+v: want ≥ 1 evicted, none refused", st)
	}
}

func TestValidateConnectionLimits(t *testing.T) {
	for _, tc := range []struct {
		name       string
		max, perIP int
		wantErr    string
	}{
		{"defaults", 0, 256, ""},
		{"set", 1000, 10, ""},
		{"per IP off", 0, -1, ""},
		{"negative max", -1, 256, "max_connections"},
		{"per IP 0", 0, 0, "max_connections_per_ip"},
		{"per IP below -1", 0, -2, "max_connections_per_ip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxConnections, cfg.MaxConnectionsPerIP = tc.max, tc.perIP
			err := cfg.validateConns()
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("validateConns() = %v, want an error naming %q", err, tc.wantErr)
			}
		})
	}
	if cfg := DefaultConfig(); cfg.MaxConnections != 0 || cfg.MaxConnectionsPerIP != 256 {
		t.Errorf("defaults: max_connections %d, max_connections_per_ip %d; want 0 (from the open-file limit), 256", cfg.MaxConnections, cfg.MaxConnectionsPerIP)
	}
}
