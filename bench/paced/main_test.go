package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseAnswer(t *testing.T) {
	const redirect = "HTTP/1.1 302 Found\r\nLocation: http://x/y\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		name    string
		in      string
		status  int
		n       int
		err     error // nil: any error when errText is set
		errText string
	}{
		{name: "redirect", in: redirect, status: 302, n: len(redirect)},
		{name: "redirect then more", in: redirect + "HTTP/1.1 200", status: 302, n: len(redirect)},
		{name: "body", in: "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", status: 200, n: 43},
		{name: "body short", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", err: errIncomplete},
		{name: "head short", in: "HTTP/1.1 302 Found\r\nLocation: x\r\n", err: errIncomplete},
		{name: "204 without length", in: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, n: 27},
		{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", err: errChunked},
		{name: "close", in: "HTTP/1.1 302 Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", err: errClose},
		{name: "no length", in: "HTTP/1.1 200 OK\r\n\r\n", errText: "without Content-Length"},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", errText: "bad Content-Length"},
		{name: "bad status", in: "HTTP/1.1 2x0 OK\r\n\r\n", errText: "bad status line"},
		{name: "not http", in: "SSH-2.0-OpenSSH\r\n\r\n", errText: "bad status line"},
		{name: "bad header", in: "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", errText: "bad header line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, n, err := parseAnswer([]byte(tt.in))
			switch {
			case tt.err != nil || tt.errText != "":
				if tt.err != nil && !errors.Is(err, tt.err) || tt.errText != "" && (err == nil || !strings.Contains(err.Error(), tt.errText)) {
					t.Fatalf("err = %v, want %v%s", err, tt.err, tt.errText)
				}
			case err != nil:
				t.Fatalf("err = %v", err)
			case status != tt.status || n != tt.n:
				t.Fatalf("= %d, %d; want %d, %d", status, n, tt.status, tt.n)
			}
		})
	}
}

func TestPct(t *testing.T) {
	ds := make([]time.Duration, 1000)
	for i := range ds {
		ds[i] = time.Duration(i + 1)
	}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{.5, 500}, {.99, 990}, {.999, 999}, {1, 1000}} {
		if got := pct(ds, tt.p); got != tt.want {
			t.Errorf("pct(%v) = %d, want %d", tt.p, got, tt.want)
		}
	}
	if pct(nil, .99) != 0 {
		t.Error("pct of nothing")
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-addr", "127.0.0.1:9", "-path", "/r/a", "-random-xff", "-H", "Accept: */*"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.requests) < 1000 {
		t.Fatalf("%d requests with -random-xff", len(cfg.requests))
	}
	r0, r1 := string(cfg.requests[0]), string(cfg.requests[1])
	if r0 == r1 || !strings.HasPrefix(r0, "GET /r/a HTTP/1.1\r\nHost: 127.0.0.1:9\r\nAccept: */*\r\nX-Forwarded-For: ") || !strings.HasSuffix(r0, "\r\n\r\n") {
		t.Fatalf("requests %q, %q", r0, r1)
	}
	for _, bad := range [][]string{
		{"-rate", "0"}, {"-conns", "0"}, {"-d", "1s", "-warmup", "2s"}, {"-path", "r/a"},
		{"-path", "/a b"}, {"-H", "novalue"}, {"-H", "X: a\r\nY: b"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}
