package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgegate/edgegate/internal/demo"
)

// adminDo sends one request to the admin listener and returns its status
// and body.
func adminDo(t *testing.T, g *testGateway, method, path, host string, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, g.admin+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A DNS-rebinding page reaches the admin listener under its own name: only
// IP literals, localhost and the names in admin.hosts are answered.
func TestAdminRefusesForeignHost(t *testing.T) {
	g := startGateway(t, demoRules(t), func(c *Config) { c.Admin.Hosts = []string{"edgegate-admin.internal"} })
	port := g.admin[strings.LastIndexByte(g.admin, ':')+1:]
	for _, tc := range []struct {
		host string
		want int
	}{
		{"", http.StatusOK}, // the client's own: 127.0.0.1:port
		{"127.0.0.1", http.StatusOK},
		{"[::1]:" + port, http.StatusOK},
		{"10.1.2.3:" + port, http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"LOCALHOST", http.StatusOK},
		{"edgegate-admin.internal:" + port, http.StatusOK},
		{"attacker.example:" + port, http.StatusMisdirectedRequest},
		{"attacker.example", http.StatusMisdirectedRequest},
		{"localhost.attacker.example", http.StatusMisdirectedRequest},
		{"127.0.0.1.nip.io:" + port, http.StatusMisdirectedRequest},
	} {
		for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/rules"} {
			code, body := adminDo(t, g, http.MethodGet, path, tc.host, "")
			if code != tc.want {
				t.Errorf("GET %s with Host %q: %d, want %d", path, tc.host, code, tc.want)
			}
			if code == http.StatusMisdirectedRequest && !strings.Contains(body, `"error"`) {
				t.Errorf("Host %q: body %q is not a JSON error", tc.host, body)
			}
		}
	}
	if n := testutil.ToFloat64(g.srv.metrics.adminRefused.WithLabelValues("host")); n != 12 {
		t.Errorf("edgegate_admin_refused_total{reason=host} = %v, want 12", n)
	}
}

// Off loopback, reload and events need the admin token; without one
// configured they refuse.
func TestAdminMutatingNeedsTokenOffLoopback(t *testing.T) {
	ev := eventBody("s3:ObjectCreated:Put", demo.Bucket, "global/uploads/a.jpg")
	t.Run("no token configured", func(t *testing.T) {
		g := startGateway(t, demoRules(t), func(c *Config) {
			c.AdminListen = "0.0.0.0:9090" // the test's listener is loopback; the configured address is not
			c.Events.Eager = []string{"global/uploads/**"}
		})
		if code, body := adminDo(t, g, http.MethodPost, "/-/reload", "", ""); code != http.StatusForbidden || !strings.Contains(body, "admin.token") {
			t.Errorf("reload without a configured token: %d %s, want 403 naming admin.token", code, body)
		}
		if code, _ := adminDo(t, g, http.MethodPost, "/events/s3", "", ev, "Content-Type", "application/json"); code != http.StatusForbidden {
			t.Errorf("JSON event without a configured token: %d, want 403", code)
		}
		if code, _ := adminDo(t, g, http.MethodGet, "/healthz", "", ""); code != http.StatusOK {
			t.Errorf("healthz: %d", code)
		}
	})
	t.Run("token configured", func(t *testing.T) {
		g := startGateway(t, demoRules(t), func(c *Config) {
			c.AdminListen = "0.0.0.0:9090"
			c.Admin.Token = "adm1n-token"
			c.Events.Eager = []string{"global/uploads/**"}
		})
		for _, auth := range []string{"", "Bearer wrong", "adm1n-token", "Bearer adm1n-token2"} {
			if code, body := adminDo(t, g, http.MethodPost, "/-/reload", "", "", "Authorization", auth); code != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
				t.Errorf("reload with Authorization %q: %d %s, want 401", auth, code, body)
			}
		}
		if code, body := adminDo(t, g, http.MethodPost, "/-/reload", "", "", "Authorization", "Bearer adm1n-token"); code != http.StatusOK {
			t.Errorf("reload with the token: %d %s", code, body)
		}
		if code, _ := adminDo(t, g, http.MethodPost, "/events/s3", "", ev, "Content-Type", "application/json"); code != http.StatusUnauthorized {
			t.Errorf("JSON event without the token: %d, want 401", code)
		}
		if code, body := adminDo(t, g, http.MethodPost, "/events/s3", "", ev, "Authorization", "Bearer adm1n-token"); code != http.StatusAccepted {
			t.Errorf("event with the admin token: %d %s", code, body)
		}
	})
}

// On a loopback admin listener without a token, a web page must not be
// able to post events: only application/json (which needs a CORS
// preflight nobody answers) for buckets the rules name.
func TestEventsRefusedInput(t *testing.T) {
	g := startGateway(t, demoRules(t), func(c *Config) { c.Events.Eager = []string{"global/uploads/**"} })
	ok := eventBody("s3:ObjectCreated:Put", demo.Bucket, "global/uploads/a.jpg")
	for _, tc := range []struct {
		name   string
		body   string
		header []string
		want   int
		reason string
	}{
		{"JSON from loopback", ok, []string{"Content-Type", "application/json"}, http.StatusAccepted, ""},
		{"versitygw's JSON", ok, []string{"Content-Type", "application/json; charset=utf-8"}, http.StatusAccepted, ""},
		{"text/plain", ok, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType, "content_type"},
		{"form", ok, []string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType, "content_type"},
		{"no type", ok, nil, http.StatusUnsupportedMediaType, "content_type"},
		{"cross-origin browser", ok, []string{"Content-Type", "application/json", "Origin", "http://attacker.example", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, "cross_origin"},
		{"unknown bucket", eventBody("s3:ObjectCreated:Put", "someone-elses-bucket", "global/uploads/a.jpg"), []string{"Content-Type", "application/json"}, http.StatusForbidden, "bucket"},
		{"one unknown bucket of two", eventBody("s3:ObjectCreated:Put", demo.Bucket, "global/uploads/a.jpg", [3]string{"s3:ObjectCreated:Put", "other", "global/uploads/b.jpg"}), []string{"Content-Type", "application/json"}, http.StatusForbidden, "bucket"},
		{"not JSON", "{nope", []string{"Content-Type", "application/json"}, http.StatusBadRequest, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := 0.0
			if tc.reason != "" {
				before = testutil.ToFloat64(g.srv.metrics.eventsRefused.WithLabelValues(tc.reason))
			}
			code, body := adminDo(t, g, http.MethodPost, "/events/s3", "", tc.body, tc.header...)
			if code != tc.want {
				t.Fatalf("%d %s, want %d", code, body, tc.want)
			}
			if tc.reason == "" {
				return
			}
			if !strings.Contains(body, `"error"`) {
				t.Errorf("body %q is not a JSON error", body)
			}
			if n := testutil.ToFloat64(g.srv.metrics.eventsRefused.WithLabelValues(tc.reason)); n != before+1 {
				t.Errorf("edgegate_events_refused_total{reason=%q} went %v → %v, want +1", tc.reason, before, n)
			}
		})
	}
}

// An idle keep-alive connection to the admin listener is closed after
// admin.idle_timeout.
func TestAdminIdleConnectionClosed(t *testing.T) {
	g := startGateway(t, demoRules(t), func(c *Config) { c.Admin.IdleTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.admin, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("healthz: %d (close %v), want a kept-alive 200", resp.StatusCode, resp.Close)
	}
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, err = br.ReadByte()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle admin connection still open after %v", time.Since(start).Round(time.Millisecond))
	}
	if err == nil {
		t.Fatal("the gateway sent bytes on an idle connection")
	}
}
