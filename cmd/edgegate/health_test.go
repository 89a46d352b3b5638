package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHealthExitCodes: the HEALTHCHECK command is healthy only on a 200
// from the path it asks, unhealthy on any other answer or none.
func TestHealthExitCodes(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte("ok\n"))
		case "/readyz":
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := ln.Addr().String()
		ln.Close()
		return a
	}()
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"healthz 200", []string{"health", "--addr", addr}, 0, "/healthz: 200 OK"},
		{"readyz 503", []string{"health", "--addr", addr, "--path", "/readyz"}, 1, "503"},
		{"nothing listening", []string{"health", "--addr", closed}, 1, "connect"},
		{"bad path", []string{"health", "--addr", addr, "--path", "healthz"}, 2, "absolute path"},
		{"bad addr", []string{"health", "--addr", "nonsense"}, 2, "nonsense"},
		{"stray argument", []string{"health", "--addr", addr, "extra"}, 2, "extra"},
		{"missing config", []string{"health", "--config", "testdata/does-not-exist.yaml"}, 1, "does-not-exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.code, out.String(), errb.String())
			}
			if got := out.String() + errb.String(); !strings.Contains(got, tc.out) {
				t.Fatalf("output %q lacks %q", got, tc.out)
			}
		})
	}
}

// TestHealthFromConfig: without --addr the config's admin_listen is
// asked, an unspecified host read as loopback.
func TestHealthFromConfig(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) }))
	defer ts.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	dir := t.TempDir()
	rules, err := os.ReadFile("../../examples/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := "listen: 127.0.0.1:1\nadmin_listen: 0.0.0.0:" + port + "\nrules: rules.yaml\n"
	if err := os.WriteFile(filepath.Join(dir, "edgegate.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"health", "--config", filepath.Join(dir, "edgegate.yaml")}, &out, &errb); code != 0 {
		t.Fatalf("exit %d; stderr %q", code, errb.String())
	}
	if want := "http://127.0.0.1:" + port + "/healthz: 200 OK"; !strings.Contains(out.String(), want) {
		t.Fatalf("stdout %q lacks %q", out.String(), want)
	}
}

func TestDialAddr(t *testing.T) {
	for in, want := range map[string]string{
		":9090":          "127.0.0.1:9090",
		"0.0.0.0:9090":   "127.0.0.1:9090",
		"[::]:9090":      "[::1]:9090",
		"10.1.2.3:9090":  "10.1.2.3:9090",
		"localhost:9090": "localhost:9090",
	} {
		got, err := dialAddr(in)
		if err != nil || got != want {
			t.Errorf("dialAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := dialAddr("9090"); err == nil {
		t.Error("dialAddr(\"9090\"): no error")
	}
}
