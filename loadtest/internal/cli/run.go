package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"

	"github.com/edgegate/edgegate/loadtest/internal/load"
	"github.com/edgegate/edgegate/loadtest/internal/report"
	"github.com/edgegate/edgegate/loadtest/internal/sample"
	"github.com/edgegate/edgegate/loadtest/internal/scenario"
	"github.com/edgegate/edgegate/loadtest/internal/scrape"
	"github.com/edgegate/edgegate/loadtest/internal/stats"
)

// Exit statuses.
const (
	ExitOK          = 0
	ExitFailure     = 1 // target unreachable at start, or a report could not be written
	ExitBadUsage    = 2 // bad flags, scenario file or GeoIP files
	progressEvery   = time.Second
	reachTimeout    = 5 * time.Second
	geoTopShares    = 15
	plotDownsample  = 4000
	resultChanDepth = 4096
	drainEvery      = 5 * time.Millisecond // at most 4096 outcomes in 5 ms: 800k req/s
)

// Main runs the command with args (without the program name);
// defaultScenarios is the built-in scenario file. ctx ends the run early
// (Ctrl-C); the results so far are still reported.
func Main(ctx context.Context, args []string, defaultScenarios []byte, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "uploads" {
		return runUploads(ctx, args[1:], stdout, stderr)
	}
	c, err := ParseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitBadUsage
	}
	name, data := "built-in scenarios.yaml", defaultScenarios
	if c.ScenariosFile != "" {
		name = c.ScenariosFile
		if data, err = os.ReadFile(c.ScenariosFile); err != nil {
			fmt.Fprintf(stderr, "loadtest: %v\n", err)
			return ExitBadUsage
		}
	}
	file, err := scenario.Parse(name, data)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitBadUsage
	}
	if c.List {
		for _, s := range file.Scenarios {
			fmt.Fprintf(stdout, "%-14s %s\n", s.Name, s.Description)
		}
		return ExitOK
	}
	sc, err := file.Lookup(c.Scenario)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitBadUsage
	}
	if sc.ReloadEvery > 0 && c.admin == nil {
		fmt.Fprintf(stderr, "loadtest: scenario %q reloads rules every %v: give --admin URL (or --watch-metrics URL), e.g. http://127.0.0.1:9090\n",
			sc.Name, time.Duration(sc.ReloadEvery))
		return ExitBadUsage
	}
	var geo *sample.GeoPool
	if sc.NeedsGeoIP() {
		files := c.GeoIP
		if len(files) == 0 {
			files = []string{DefaultGeoIP}
		}
		if !c.Quiet {
			fmt.Fprintf(stderr, "loadtest: sampling %d client addresses from %v...\n", c.GeoIPPool, files)
		}
		if geo, err = sample.NewGeoPool(files, c.GeoIPPool, c.Seed); err != nil {
			fmt.Fprintf(stderr, "%v\n(scenario %q needs GeoIP files: --geoip FILE.mmdb; scripts/fetch-geoip.sh fetches the demo's)\n", err, sc.Name)
			return ExitBadUsage
		}
		c.GeoIP = files
	}
	gen, err := scenario.NewGenerator(sc, geo)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitBadUsage
	}
	client := load.NewClient(c.Conns, c.Timeout)
	defer client.CloseIdleConnections()
	if err := checkReachable(ctx, client, c.target.String()); err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailure
	}
	send := func(ctx context.Context, t scenario.Target, intended time.Time) stats.Result {
		return load.Send(ctx, client, c.target, t, intended)
	}
	if c.Client == ClientRaw {
		client.CloseIdleConnections() // only the reachability check used it
		raw, err := load.NewRawClient(c.target, load.RawConfig{Conns: c.Conns, Timeout: c.Timeout, Eager: c.Max})
		if err != nil { // the flags were validated; report it all the same
			fmt.Fprintln(stderr, err)
			return ExitBadUsage
		}
		defer raw.Close()
		send = raw.Send
	}

	r := newRun(c, sc, gen, send, stderr)
	rep := r.execute(ctx)
	if geo != nil {
		rep.GeoIP = &report.GeoIP{Files: c.GeoIP, PoolSize: geo.Len(), TopShares: geo.TopShares(geoTopShares)}
	}
	return writeOutputs(c, rep, r.plotHTML, stdout, stderr)
}

func checkReachable(ctx context.Context, c *http.Client, target string) error {
	ctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target+"/", nil)
	if err != nil {
		return fmt.Errorf("loadtest: target: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("loadtest: target %s unreachable: %w", target, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return nil
}

// outcome is a result with its schedule position, for the plot.
type outcome struct {
	res      stats.Result
	seq      uint64
	intended time.Time
}

// run is one load test in progress.
type run struct {
	c      *Config
	sc     *scenario.Scenario
	gen    *scenario.Generator
	send   func(context.Context, scenario.Target, time.Time) stats.Result
	stderr io.Writer

	sent     atomic.Uint64
	out      chan outcome
	byName   map[string]*stats.Stats // owned by the collector
	plot     *plot.Plot              // owned by the collector
	plotHTML string
	reloads  *report.Reloads
	reloadMu sync.Mutex
}

func newRun(c *Config, sc *scenario.Scenario, gen *scenario.Generator,
	send func(context.Context, scenario.Target, time.Time) stats.Result, stderr io.Writer,
) *run {
	r := &run{
		c: c, sc: sc, gen: gen, send: send, stderr: stderr,
		out:    make(chan outcome, resultChanDepth),
		byName: map[string]*stats.Stats{},
		plot: plot.New(
			plot.Title(fmt.Sprintf("%s: latency from intended send time", sc.Name)),
			plot.Downsample(plotDownsample),
			plot.Label(func(v *vegeta.Result) string {
				if v.Error != "" {
					return v.URL + " error"
				}
				return v.URL
			}),
		),
	}
	for _, n := range gen.Names() {
		r.byName[n] = stats.New()
	}
	return r
}

// seeded is a *rand.Rand with its source, reseeded for each job.
type seeded struct {
	src *rand.PCG
	rng *rand.Rand
}

var rngs = sync.Pool{New: func() any {
	src := rand.NewPCG(0, 0)
	return &seeded{src: src, rng: rand.New(src)} //nolint:gosec // load generation
}}

func (r *run) do(ctx context.Context, j load.Job) {
	r.sent.Add(1)
	s := rngs.Get().(*seeded)
	s.src.Seed(r.c.Seed, j.Seq) // the same draws as rand.NewPCG(seed, seq)
	t := r.gen.Next(s.rng)
	rngs.Put(s)
	res := r.send(ctx, t, j.Intended)
	r.out <- outcome{res: res, seq: j.Seq, intended: j.Intended}
}

func (r *run) execute(ctx context.Context) *report.Report {
	start := time.Now()
	sideCtx, stopSide := context.WithCancel(ctx)
	var side sync.WaitGroup
	var watcher *scrape.Watcher
	if r.c.WatchMetrics != "" {
		watcher, _ = scrape.NewWatcher(&http.Client{Timeout: 5 * time.Second}, r.c.WatchMetrics+"/metrics", r.c.MetricsEvery) // interval validated
		side.Go(func() { watcher.Run(sideCtx) })
	}
	if r.sc.ReloadEvery > 0 {
		r.reloads = &report.Reloads{EverySeconds: time.Duration(r.sc.ReloadEvery).Seconds(), ByStatus: map[string]int64{}}
		side.Go(func() { r.reloadLoop(sideCtx, time.Duration(r.sc.ReloadEvery)) })
	}

	collected := make(chan struct{})
	go func() { defer close(collected); r.collect(start) }()

	var acc load.Accounting
	var err error
	mode := "open"
	if r.c.Max {
		mode = "closed"
		acc, err = load.ClosedLoop(ctx, r.c.Workers, r.c.Duration, r.do)
	} else {
		acc, err = load.OpenLoop(ctx, load.OpenLoopConfig{
			Rate: r.c.Rate, Duration: r.c.Duration, MaxInFlight: r.c.MaxInFlight,
		}, r.do, nil)
	}
	elapsed := time.Since(start)
	close(r.out)
	<-collected
	stopSide()
	side.Wait()
	if err != nil { // configs are validated; report it all the same
		fmt.Fprintf(r.stderr, "loadtest: %v\n", err)
	}

	total := stats.New()
	rep := &report.Report{
		Scenario: r.sc.Name, Description: r.sc.Description, Target: r.c.target.String(),
		Mode: mode, Client: r.c.Client, Conns: r.c.Conns, Seed: r.c.Seed, Started: start.UTC().Format(time.RFC3339),
		DurationS: r.c.Duration.Seconds(), ElapsedS: elapsed.Seconds(),
		RequestedRate: r.c.Rate, Schedule: acc,
		ByRequest: map[string]stats.Summary{}, Order: r.gen.Names(),
	}
	for _, n := range r.gen.Names() {
		total.Merge(r.byName[n])
		rep.ByRequest[n] = r.byName[n].Summary()
	}
	rep.Total = total.Summary()
	rep.Distribution = stats.Distribution(total.Latency)
	// Rates are over the requested duration (the open loop's last send is
	// one period before its end), or over the time actually run if longer
	// (slow responses) or cut short (Ctrl-C).
	span := elapsed
	if ctx.Err() == nil {
		span = max(elapsed, r.c.Duration)
	}
	if s := span.Seconds(); s > 0 {
		rep.SentRate = float64(acc.Sent) / min(s, r.c.Duration.Seconds())
		rep.Throughput = float64(total.Requests) / s
		rep.SuccessRate = float64(total.OK) / s
	}
	if r.reloads != nil {
		r.reloadMu.Lock()
		rl := *r.reloads
		r.reloadMu.Unlock()
		rep.Reloads = &rl
	}
	if watcher != nil {
		rep.Metrics = watcher.Samples()
	}
	if total.Requests > 0 {
		r.plot.Close()
		var buf bytes.Buffer
		if _, err := r.plot.WriteTo(&buf); err != nil {
			fmt.Fprintf(r.stderr, "loadtest: latency plot: %v\n", err)
		} else {
			r.plotHTML = buf.String()
		}
	}
	return rep
}

// collect records every outcome and prints progress; it owns byName and
// the plot. It drains r.out every drainEvery rather than waking for each
// outcome: at 40k req/s those wake-ups cost more than the recording.
func (r *run) collect(start time.Time) {
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	drain := time.NewTicker(drainEvery)
	defer drain.Stop()
	interval, cum := stats.New(), stats.New()
	var vr vegeta.Result // reused: the plot keeps none
	for {
		select {
		case <-drain.C:
			for more := true; more; {
				select {
				case o, ok := <-r.out:
					if !ok {
						return
					}
					r.record(o, interval, &vr)
				default:
					more = false
				}
			}
		case <-tick.C:
			cum.Merge(interval)
			if !r.c.Quiet {
				r.progress(time.Since(start), interval, cum)
			}
			interval = stats.New()
		}
	}
}

func (r *run) record(o outcome, interval *stats.Stats, vr *vegeta.Result) {
	r.byName[o.res.Name].Record(o.res)
	interval.Record(o.res)
	errText := ""
	if o.res.Cause != "" || !stats.Success(o.res.Status) {
		errText = o.res.Cause
		if errText == "" {
			errText = strconv.Itoa(o.res.Status)
		}
	}
	*vr = vegeta.Result{
		Attack: r.sc.Name, Seq: o.seq, Timestamp: o.intended, Latency: o.res.Latency,
		Code: uint16(o.res.Status), Error: errText, URL: o.res.Name,
	}
	// Errors from Add are out-of-order timestamps; the plot drops them.
	_ = r.plot.Add(vr)
}

func (r *run) progress(el time.Duration, iv, cum *stats.Stats) {
	sent := r.sent.Load()
	p := stats.PercentilesOf(iv.Latency)
	hit := ""
	if h := cum.HitRatio(); h != nil {
		hit = fmt.Sprintf(" hit %.1f%%", 100**h)
	}
	target := "max"
	if !r.c.Max {
		target = fmt.Sprintf("%g/s", r.c.Rate)
	}
	fmt.Fprintf(r.stderr, "[%4.0fs/%v] sent %d (%.0f/s of %s) done %d ok %d err %d inflight %d | last 1s: p50 %.1fms p99 %.1fms max %.1fms%s\n",
		el.Seconds(), r.c.Duration, sent, float64(sent)/max(el.Seconds(), 1e-9), target,
		cum.Requests, cum.OK, cum.Errors, sent-min(sent, cum.Requests), p.P50, p.P99, p.Max, hit)
}

func (r *run) reloadLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	url := r.c.admin.String() + "/-/reload"
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		status, err := postReload(ctx, url)
		if ctx.Err() != nil {
			return
		}
		r.reloadMu.Lock()
		switch {
		case err != nil:
			r.reloads.Failed++
			r.reloads.LastError = err.Error()
		case status >= 200 && status < 300:
			r.reloads.OK++
			r.reloads.ByStatus[strconv.Itoa(status)]++
		default:
			r.reloads.Failed++
			r.reloads.ByStatus[strconv.Itoa(status)]++
			r.reloads.LastError = fmt.Sprintf("status %d", status)
		}
		r.reloadMu.Unlock()
	}
}

func postReload(ctx context.Context, url string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func writeOutputs(c *Config, rep *report.Report, plotHTML string, stdout, stderr io.Writer) int {
	summaryTo := stdout
	code := ExitOK
	if c.JSON == "-" {
		summaryTo = stderr
		if err := report.WriteJSON(stdout, rep); err != nil {
			fmt.Fprintln(stderr, err)
			code = ExitFailure
		}
	} else if c.JSON != "" {
		if err := report.WriteFile(c.JSON, func(w io.Writer) error { return report.WriteJSON(w, rep) }); err != nil {
			fmt.Fprintf(stderr, "loadtest: --json: %v\n", err)
			code = ExitFailure
		}
	}
	if c.ReportHTML != "" {
		if err := report.WriteFile(c.ReportHTML, func(w io.Writer) error { return report.WriteHTML(w, rep, plotHTML) }); err != nil {
			fmt.Fprintf(stderr, "loadtest: --report: %v\n", err)
			code = ExitFailure
		}
	}
	printSummary(summaryTo, c, rep)
	return code
}

func printSummary(w io.Writer, c *Config, rep *report.Report) {
	t := rep.Total
	fmt.Fprintf(w, "scenario %s against %s: %s loop, %s client, %.1fs\n", rep.Scenario, rep.Target, rep.Mode, rep.Client, rep.ElapsedS)
	if rep.Mode == "open" {
		s := rep.Schedule
		fmt.Fprintf(w, "  rate: requested %g/s, sent %.1f/s; send times due %d, sent %d, late %d, missed %d\n",
			rep.RequestedRate, rep.SentRate, s.Intended, s.Sent, s.Late, s.Missed)
	}
	fmt.Fprintf(w, "  requests %d, ok %d, errors %d (%.2f%%), throughput %.1f/s\n",
		t.Requests, t.Successes, t.Errors, 100*t.ErrorRate, rep.Throughput)
	fmt.Fprintf(w, "  latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
		t.Latency.P50, t.Latency.P90, t.Latency.P99, t.Latency.P999, t.Latency.Max)
	for _, k := range stats.SortedKeys(t.ErrorsByStatus) {
		fmt.Fprintf(w, "  errors: status %s: %d\n", k, t.ErrorsByStatus[k])
	}
	for _, k := range stats.SortedKeys(t.ErrorsByCause) {
		fmt.Fprintf(w, "  errors: cause %s: %d\n", k, t.ErrorsByCause[k])
	}
	if rep.Uploads != nil {
		printUploads(w, rep.Uploads)
	}
	if t.HitRatio != nil {
		fmt.Fprintf(w, "  image cache hit ratio (X-Cache): %.1f%%\n", 100**t.HitRatio)
	}
	if rep.Reloads != nil {
		fmt.Fprintf(w, "  reloads: ok %d, failed %d\n", rep.Reloads.OK, rep.Reloads.Failed)
	}
	for _, f := range []string{c.JSON, c.ReportHTML} {
		if f != "" && f != "-" {
			fmt.Fprintf(w, "  wrote %s\n", f)
		}
	}
}
