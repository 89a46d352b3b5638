// Command pingpong measures a server's own answer latency without load:
// one keep-alive HTTP/1.1 connection, one request at a time, a short pause
// every few requests so the server also wakes from idle, and the
// percentiles of the round trips. scripts/bench-route.sh runs it against
// edgegate and nginx to separate server latency from a load generator's.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "server `host:port`")
	path := flag.String("path", "/r/map-tiles.zip?region=egypt-cairo", "request `path`")
	n := flag.Int("n", 20000, "requests")
	pause := flag.Duration("pause", 200*time.Microsecond, "pause after every 10th request")
	flag.Parse()
	if err := run(*addr, *path, *n, *pause); err != nil {
		fmt.Fprintln(os.Stderr, "pingpong:", err)
		os.Exit(1)
	}
}

func run(addr, path string, n int, pause time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
	ds := make([]time.Duration, 0, n)
	for i := range n {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		t := time.Now()
		if _, err := c.Write(req); err != nil {
			return err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		resp.Body.Close()
		ds = append(ds, time.Since(t))
		if resp.StatusCode >= 400 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		if i%10 == 9 {
			time.Sleep(pause)
		}
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[int(float64(len(ds)-1)*p)].Round(time.Microsecond) }
	fmt.Printf("%d requests: p50 %v, p99 %v, p99.9 %v, max %v\n", n, q(0.5), q(0.99), q(0.999), ds[len(ds)-1].Round(time.Microsecond))
	return nil
}
