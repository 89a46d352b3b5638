// Command paced offers an HTTP/1.1 server a fixed request rate, evenly
// spaced, and reports the latency percentiles at that rate, each measured
// from the request's intended send time (so a stalled server or client is
// charged for every request it delayed, as wrk2 does).
//
// It is the p99-at-a-given-rate half of scripts/bench-route.sh. Load
// generators built on goroutines or on a timer tick (loadtest, h2load
// --rps) add their own scheduling to the percentiles at tens of thousands
// of requests a second on a small machine; paced runs on one OS thread
// that wakes once a -tick (50 µs), takes in the answers that have arrived
// and sends the requests that have come due. It costs about one write and
// one read a request and wakes 20 000 times a second however high the
// rate. On a core of its own it stays out of the figures; sharing the
// server's cores it still competes for them (its writes carry the loopback
// TCP work), so it counts its own late sends: a run with many of them
// measured the machine as much as the server. An answer is timed when
// taken in: a latency is rounded up by at most a tick.
//
// The requests go round-robin over -conns keep-alive connections, one in
// flight per connection: a request due on a busy connection waits for it
// and its latency includes the wait. Every answer must carry a
// Content-Length (no chunked bodies) and keep the connection open.
//
//	go run ./bench/paced -addr 127.0.0.1:18080 -rate 30000 -d 10s
//	go run ./bench/paced -addr 127.0.0.1:18080 -path /r/map-tiles.zip -random-xff
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

// config is one run, validated by parseFlags.
type config struct {
	addr      string
	rate      float64
	conns     int
	duration  time.Duration
	warmup    time.Duration
	requests  [][]byte // sent in turn, request i is requests[i%len]
	lateAfter time.Duration
	tick      time.Duration
}

// result is what a run measured after its warm-up.
type result struct {
	latencies  []time.Duration // from intended send time, one per answer
	service    []time.Duration // from the actual write, one per answer
	statuses   map[int]int
	late       int // requests written more than lateAfter after they were due
	due        int // requests due after the warm-up
	elapsed    time.Duration
	unanswered int
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "paced:", err)
		os.Exit(2)
	}
	res, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "paced:", err)
		os.Exit(1)
	}
	fmt.Println(summary(cfg, res))
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("paced", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "server `host:port` (IPv4)")
	path := fs.String("path", "/r/map-tiles.zip?region=egypt-cairo", "request `path` with query")
	rate := fs.Float64("rate", 10000, "requests per second")
	conns := fs.Int("conns", 64, "keep-alive connections")
	dur := fs.Duration("d", 10*time.Second, "how long to send, warm-up included")
	warm := fs.Duration("warmup", time.Second, "first part of the run left out of the figures")
	xff := fs.Bool("random-xff", false, "a random public IPv4 X-Forwarded-For on every request (as bench/random-xff.lua)")
	seed := fs.Uint64("seed", 20261127, "seed for -random-xff")
	late := fs.Duration("late", time.Millisecond, "a write this far behind its due time counts as late")
	tick := fs.Duration("tick", 50*time.Microsecond, "the client wakes once a `tick`: latencies are rounded up by at most this")
	var hs headers
	fs.Var(&hs, "H", "extra `header: value` (repeatable)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	switch {
	case *rate <= 0 || *rate > 10_000_000:
		return config{}, fmt.Errorf("-rate %v: want 0 < rate ≤ 1e7", *rate)
	case *conns < 1 || *conns > 10000:
		return config{}, fmt.Errorf("-conns %d: want 1 to 10000", *conns)
	case *tick < time.Microsecond || *tick > 10*time.Millisecond:
		return config{}, fmt.Errorf("-tick %v: want 1µs to 10ms", *tick)
	case *dur <= 0 || *warm < 0 || *warm >= *dur:
		return config{}, fmt.Errorf("-d %v, -warmup %v: want 0 ≤ warmup < d", *dur, *warm)
	case !strings.HasPrefix(*path, "/") || strings.ContainsAny(*path, " \r\n"):
		return config{}, fmt.Errorf("-path %q: want an origin-form path", *path)
	}
	for _, h := range hs {
		name, _, ok := strings.Cut(h, ":")
		if !ok || name == "" || strings.ContainsAny(h, "\r\n") {
			return config{}, fmt.Errorf("-H %q: want \"Name: value\"", h)
		}
	}
	cfg := config{addr: *addr, rate: *rate, conns: *conns, duration: *dur, warmup: *warm, lateAfter: *late, tick: *tick}
	if *xff {
		rng := rand.New(rand.NewPCG(*seed, 0))
		cfg.requests = make([][]byte, 1<<14)
		for i := range cfg.requests {
			ip := fmt.Sprintf("%d.%d.%d.%d", 1+rng.IntN(223), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
			cfg.requests[i] = buildRequest(*addr, *path, append(slices.Clone(hs), "X-Forwarded-For: "+ip))
		}
	} else {
		cfg.requests = [][]byte{buildRequest(*addr, *path, hs)}
	}
	return cfg, nil
}

func buildRequest(host, path string, hs []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, host)
	for _, h := range hs {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

var (
	errIncomplete = errors.New("incomplete answer")
	errChunked    = errors.New("chunked answers are not supported: want Content-Length")
	errClose      = errors.New("the server asked to close the connection")
)

// parseAnswer reads one HTTP/1.1 answer from the start of b: its status and
// its whole length (head and body). errIncomplete means more bytes are
// needed.
func parseAnswer(b []byte) (status, n int, err error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > 64<<10 {
			return 0, 0, errors.New("answer head over 64 KiB")
		}
		return 0, 0, errIncomplete
	}
	head := b[:end]
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, 0, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 {
		return 0, 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, 0, fmt.Errorf("bad header line %q", h)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.Atoi(string(value))
			if err != nil || length < 0 {
				return 0, 0, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, 0, errChunked
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			return 0, 0, errClose
		}
	}
	if length < 0 {
		if status == 204 || status == 304 || status < 200 {
			length = 0
		} else {
			return 0, 0, errors.New("answer without Content-Length")
		}
	}
	n = end + 4 + length
	if len(b) < n {
		return 0, 0, errIncomplete
	}
	return status, n, nil
}

// pct is the p-th percentile (0 < p ≤ 1) of sorted ds.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(float64(len(ds))*p+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }

func summary(cfg config, r result) string {
	slices.Sort(r.latencies)
	slices.Sort(r.service)
	codes := make([]int, 0, len(r.statuses))
	for c := range r.statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var st strings.Builder
	for _, c := range codes {
		fmt.Fprintf(&st, " %d×%d", c, r.statuses[c])
	}
	l, s := r.latencies, r.service
	return fmt.Sprintf("rate %.0f/s offered, %.0f/s answered over %d conns; late %d of %d; unanswered %d; status%s\n"+
		"latency from intended send: p50 %s p90 %s p99 %s p99.9 %s max %s ms\n"+
		"latency from actual write:  p50 %s p90 %s p99 %s p99.9 %s max %s ms",
		cfg.rate, float64(len(l))/r.elapsed.Seconds(), cfg.conns, r.late, r.due, r.unanswered, st.String(),
		ms(pct(l, .5)), ms(pct(l, .9)), ms(pct(l, .99)), ms(pct(l, .999)), ms(pct(l, 1)),
		ms(pct(s, .5)), ms(pct(s, .9)), ms(pct(s, .99)), ms(pct(s, .999)), ms(pct(s, 1)))
}
