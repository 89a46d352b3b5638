package gateway

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestShutdownDelayConfig(t *testing.T) {
	for _, tc := range []struct {
		yaml, wantErr string
		want          time.Duration
	}{
		{"", "", 0},
		{"shutdown_delay: 5s", "", 5 * time.Second},
		{"shutdown_delay: 5m", "", 5 * time.Minute},
		{"shutdown_delay: 5m1s", "shutdown_delay", 0},
		{"shutdown_delay: -1s", "shutdown_delay", 0},
	} {
		cfg, err := ParseConfig("test.yaml", []byte("rules: rules.yaml\n"+tc.yaml+"\n"))
		if err == nil {
			err = cfg.Validate()
		}
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want one naming %q", tc.yaml, err, tc.wantErr)
			}
			continue
		}
		if err != nil || cfg.ShutdownDelay != tc.want {
			t.Errorf("%q: %v, %v; want %v", tc.yaml, cfg.ShutdownDelay, err, tc.want)
		}
	}
}

// During shutdown_delay /readyz answers 503 at once while the public
// listener still accepts and answers normally; then it stops accepting
// and ServeListeners returns nil. EndShutdownDelay (a second SIGTERM) ends
// the delay early.
func TestShutdownDelay(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
		cut   bool // end the delay with EndShutdownDelay
	}{
		{"delay elapses", 1500 * time.Millisecond, false},
		{"second signal cuts it", time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, demoRules(t), func(c *Config) { c.ShutdownDelay = tc.delay })
			addr := strings.TrimPrefix(g.base, "http://")
			waitFor(t, 5*time.Second, "/readyz 200 before shutdown", func() bool {
				resp, err := noRedirect.Get(g.admin + "/readyz")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			})
			began := time.Now()
			g.cancel() // what SIGTERM does in main
			waitFor(t, time.Second, "/readyz 503", func() bool {
				resp, err := noRedirect.Get(g.admin + "/readyz")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusServiceUnavailable
			})
			// Still serving, on new connections too, for most of the delay.
			for time.Since(began) < min(tc.delay, 3*time.Second)*2/3 {
				tr := &http.Transport{DisableKeepAlives: true}
				c := &http.Client{Transport: tr, Timeout: 5 * time.Second,
					CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				resp, err := c.Get(g.base + "/r/map-tiles.zip?region=uk-london")
				if err != nil {
					t.Fatalf("%v into the delay: %v", time.Since(began), err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound {
					t.Fatalf("%v into the delay: status %d, want 302", time.Since(began), resp.StatusCode)
				}
				select {
				case err := <-g.done:
					t.Fatalf("ServeListeners returned (%v) %v into a %v delay", err, time.Since(began), tc.delay)
				case <-time.After(50 * time.Millisecond):
				}
			}
			if tc.cut {
				g.srv.EndShutdownDelay()
			}
			select {
			case err := <-g.done:
				if err != nil {
					t.Fatalf("ServeListeners: %v", err)
				}
				g.done <- nil // for the cleanup
			case <-time.After(tc.delay%time.Minute + 5*time.Second):
				t.Fatalf("ServeListeners still serving %v after shutdown began", time.Since(began))
			}
			if took := time.Since(began); !tc.cut && took < tc.delay {
				t.Fatalf("stopped after %v, before the %v delay", took, tc.delay)
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Fatal("public listener still accepting after shutdown")
			}
		})
	}
}
