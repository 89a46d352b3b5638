// Command idleconns holds many idle keep-alive connections open against a
// server and measures how the server answers new requests meanwhile.
// scripts/bench-capacity.sh runs it.
//
//	idleconns hold    -addr HOST:PORT -n 10000 -src 127.0.0.2 -sources 50 [-send request|none]
//	idleconns measure -addr HOST:PORT -admin HOST:PORT [-pid PID] [-tries 200]
//
// hold opens n connections spread over consecutive source addresses
// (-sources of them, from -src: 127.0.0.0/8 is all loopback on Linux), so
// that no address holds more than n/sources; with -send request each sends
// one GET and reads its answer first (a keep-alive connection gone idle),
// with -send none it sends nothing. It prints "ready open=N failed=M",
// then "open=N" every second (connections the server has closed are
// counted out as it closes them) until SIGINT or SIGTERM, then "final
// open=N". One process holds at most its open-file limit, so more
// connections than that take several hold processes.
//
// measure first records the server's VmRSS (-pid) and its connection
// metrics (admin /metrics), then -tries times, 10 ms apart: a /r/ request
// on a new connection, GET /healthz on a new admin connection and a cached
// /r/ on one kept-alive connection (opened again if the server closed it:
// counted as "redials"), and prints p50/p99/max of each and the number of
// errors (a try that gets no 2xx/3xx answer within -timeout).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: idleconns hold|measure [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("idleconns "+os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "public `host:port`")
	admin := fs.String("admin", "127.0.0.1:9090", "admin `host:port` (measure)")
	path := fs.String("path", "/r/map-tiles.zip?region=uk-london", "request `path` of /r/ tries and of -send request")
	n := fs.Int("n", 10000, "connections to hold (hold)")
	src := fs.String("src", "127.0.0.2", "first source `address` (hold)")
	sources := fs.Int("sources", 50, "consecutive source addresses to spread the connections over (hold)")
	send := fs.String("send", "request", "what each held connection sends: request (one GET, answer read) or none (hold)")
	dialers := fs.Int("dialers", 64, "concurrent dials (hold)")
	pid := fs.Int("pid", 0, "server process whose VmRSS to report (measure)")
	tries := fs.Int("tries", 200, "tries of each kind (measure)")
	timeout := fs.Duration("timeout", 2*time.Second, "per-try timeout (measure) and per-dial timeout (hold)")
	_ = fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "hold":
		var first netip.Addr
		if first, err = netip.ParseAddr(*src); err == nil {
			err = hold(*addr, *path, *n, first, *sources, *send, *dialers, *timeout)
		}
	case "measure":
		err = measure(*addr, *admin, *path, *pid, *tries, *timeout)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(1)
	}
}

func request(addr, path string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: idleconns\r\n\r\n")
}

// roundTrip writes req on c and reads one answer, which must be 2xx or 3xx.
func roundTrip(c net.Conn, br *bufio.Reader, req []byte, deadline time.Time) error {
	_ = c.SetDeadline(deadline)
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func hold(addr, path string, n int, first netip.Addr, sources int, send string, dialers int, timeout time.Duration) error {
	if send != "request" && send != "none" {
		return fmt.Errorf("-send %q: want request or none", send)
	}
	if sources < 1 {
		return errors.New("-sources must be at least 1")
	}
	srcs := make([]netip.Addr, sources)
	for i, a := 0, first; i < sources; i, a = i+1, a.Next() {
		srcs[i] = a
	}
	req := request(addr, path)
	var open, failed atomic.Int64
	var firstErr atomic.Value
	var mu sync.Mutex
	var conns []net.Conn
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: srcs[i%sources].AsSlice()}}
				c, err := d.Dial("tcp", addr)
				if err == nil && send == "request" {
					err = roundTrip(c, bufio.NewReader(c), req, time.Now().Add(timeout))
					if err != nil {
						c.Close()
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				open.Add(1)
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				go func() { // counts the connection out when the server closes it
					var b [512]byte
					for {
						if _, err := c.Read(b[:]); err != nil {
							open.Add(-1)
							return
						}
					}
				}()
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	msg := ""
	if e, ok := firstErr.Load().(string); ok {
		msg = " first_error=" + strings.ReplaceAll(e, " ", "_")
	}
	fmt.Printf("ready open=%d failed=%d in=%.1fs%s\n", open.Load(), failed.Load(), time.Since(start).Seconds(), msg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Printf("final open=%d\n", open.Load())
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
			return nil
		case <-tick.C:
			fmt.Printf("open=%d\n", open.Load())
		}
	}
}

func measure(addr, admin, path string, pid, tries int, timeout time.Duration) error {
	report := func(when string) {
		fmt.Printf("%s: rss=%s %s\n", when, rss(pid), connMetrics(admin))
	}
	report("before")
	req := request(addr, path)
	health := request(admin, "/healthz")
	var fresh, hc, cached []time.Duration
	var freshErr, healthErr, cachedErr, redials int
	var kc net.Conn
	var kbr *bufio.Reader
	defer func() {
		if kc != nil {
			kc.Close()
		}
	}()
	once := func(target string, req []byte) (time.Duration, error) {
		t0 := time.Now()
		c, err := net.DialTimeout("tcp", target, timeout)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		err = roundTrip(c, bufio.NewReader(c), req, t0.Add(timeout))
		return time.Since(t0), err
	}
	for range tries {
		if d, err := once(addr, req); err != nil {
			freshErr++
		} else {
			fresh = append(fresh, d)
		}
		if d, err := once(admin, health); err != nil {
			healthErr++
		} else {
			hc = append(hc, d)
		}
		t0 := time.Now()
		if kc == nil {
			c, err := net.DialTimeout("tcp", addr, timeout)
			if err != nil {
				cachedErr++
				time.Sleep(10 * time.Millisecond)
				continue
			}
			kc, kbr = c, bufio.NewReader(c)
			t0 = time.Now() // the request on the kept connection, not its dial
		}
		if err := roundTrip(kc, kbr, req, t0.Add(timeout)); err != nil {
			// Closed by the server since the last try (evicted or idle
			// timeout): a real client opens another and sends again.
			kc.Close()
			kc = nil
			redials++
			if c, err := net.DialTimeout("tcp", addr, timeout); err == nil {
				kc, kbr = c, bufio.NewReader(c)
				t0 = time.Now()
				if err := roundTrip(kc, kbr, req, t0.Add(timeout)); err == nil {
					cached = append(cached, time.Since(t0))
				} else {
					cachedErr++
				}
			} else {
				cachedErr++
			}
		} else {
			cached = append(cached, time.Since(t0))
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("fresh /r/ (new connection): %s errors=%d\n", pct(fresh), freshErr)
	fmt.Printf("admin /healthz (new connection): %s errors=%d\n", pct(hc), healthErr)
	fmt.Printf("cached /r/ (kept-alive connection): %s errors=%d redials=%d\n", pct(cached), cachedErr, redials)
	report("after")
	return nil
}

func pct(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n=0"
	}
	slices.Sort(ds)
	at := func(p float64) float64 {
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
	}
	return fmt.Sprintf("n=%d p50=%.2fms p99=%.2fms max=%.2fms", len(ds), at(0.50), at(0.99), float64(ds[len(ds)-1].Microseconds())/1000)
}

// rss is the process's VmRSS in MiB, or "?" without a readable pid.
func rss(pid int) string {
	if pid <= 0 {
		return "?"
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			var kb int
			fmt.Sscan(f[1], &kb)
			return fmt.Sprintf("%.0fMiB", float64(kb)/1024)
		}
	}
	return "?"
}

// connMetrics picks the connection lines and the goroutine count out of
// the admin listener's /metrics, one "name=value" each.
func connMetrics(admin string) string {
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + admin + "/metrics")
	if err != nil {
		return "metrics=" + strings.ReplaceAll(err.Error(), " ", "_")
	}
	defer resp.Body.Close()
	var out []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "edgegate_connections") || strings.HasPrefix(l, "edgegate_loop_connections") || strings.HasPrefix(l, "go_goroutines") {
			f := strings.Fields(l)
			out = append(out, strings.Join(f[:len(f)-1], "")+"="+f[len(f)-1])
		}
	}
	return strings.Join(out, " ")
}
