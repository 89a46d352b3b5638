package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// health asks a running gateway's admin listener for /healthz (or
// --path) and exits 0 on 200, 1 on anything else: the container
// HEALTHCHECK, which has no shell or curl to run. The address is --addr,
// else the config's admin_listen with an unspecified host (":9090",
// "0.0.0.0:9090", "[::]:9090") read as loopback.
func health(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("edgegate health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "edgegate.yaml", "config file whose admin_listen is asked")
	addr := fs.String("addr", "", "admin address host:port to ask (overrides the config)")
	path := fs.String("path", "/healthz", "admin path to ask: /healthz (process up) or /readyz (ready for traffic)")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "edgegate health: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *path == "" || (*path)[0] != '/' {
		fmt.Fprintf(stderr, "edgegate health: --path %q: want an absolute path like /healthz\n", *path)
		return 2
	}
	target := *addr
	if target == "" {
		cfg, err := loadConfig(&commonFlags{config: *config})
		if err != nil {
			fmt.Fprintf(stderr, "edgegate health: %v\n", err)
			return 1
		}
		target = cfg.AdminListen
	}
	target, err := dialAddr(target)
	if err != nil {
		fmt.Fprintf(stderr, "edgegate health: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	url := "http://" + target + *path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "edgegate health: %v\n", err)
		return 2
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "edgegate health: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "edgegate health: %s: %s %s\n", url, resp.Status, body)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s\n", url, resp.Status)
	return 0
}

// dialAddr turns a listen address into one to dial: an empty or
// unspecified host becomes the loopback address of its family.
func dialAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("admin address %q: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}
