// Command edgegate is the edge geo-routing and media gateway.
//
//	edgegate [serve] [--config edgegate.yaml] [--rules F] [--listen A] [--admin-listen A] [--log-format text|json]
//	edgegate check   [--config edgegate.yaml] [--rules F]
//	edgegate explain [--config edgegate.yaml] [--ip A] [--region R] [--header 'K: V']... KEY
//	edgegate sign    [--config edgegate.yaml] PATH
//	edgegate gc      [--config edgegate.yaml] [--apply]
//	edgegate version
//
// It parses flags and calls into package gateway; nothing else lives here.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/edgegate/edgegate/gateway"
)

// version is set at build time with -ldflags "-X main.version=...";
// serve passes it to the gateway (edgegate_build_info).
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, stderr)
	case "check":
		return check(args, stdout, stderr)
	case "explain":
		return explain(args, stdout, stderr)
	case "sign":
		return sign(args, stdout, stderr)
	case "gc":
		return gc(args, stdout, stderr)
	case "health":
		return health(args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "edgegate: unknown command %q\n", cmd)
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  edgegate [serve] [--config FILE] [--rules FILE] [--listen ADDR] [--admin-listen ADDR] [--log-format text|json] [--log-level LEVEL]
  edgegate check   [--config FILE] [--rules FILE]   validate config and rules offline; exit 1 on errors
  edgegate explain [--config FILE] [--ip ADDR] [--region NAME] [--header 'Name: value']... KEY
                   print the whole routing decision for KEY as JSON
  edgegate sign    [--config FILE] PATH      print PATH?sig=... for a custom image size (/img/300x200-cover/KEY)
  edgegate gc      [--config FILE] [--apply] list the stored variants whose source is gone or changed;
                   --apply removes them (default: a dry run)
  edgegate version
`)
}

type commonFlags struct {
	config, rules, listen, adminListen, logFormat, logLevel string
}

func parseFlags(name string, args []string, stderr io.Writer) (*commonFlags, error) {
	fs := flag.NewFlagSet("edgegate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &commonFlags{}
	fs.StringVar(&f.config, "config", "edgegate.yaml", "config file")
	fs.StringVar(&f.rules, "rules", "", "rules file (overrides the config's rules)")
	fs.StringVar(&f.listen, "listen", "", "public listen address (overrides the config)")
	fs.StringVar(&f.adminListen, "admin-listen", "", "admin listen address (overrides the config)")
	fs.StringVar(&f.logFormat, "log-format", "", "log format: text or json (overrides the config)")
	fs.StringVar(&f.logLevel, "log-level", "", "log level: debug, info, warn, error (overrides the config)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return f, nil
}

func loadConfig(f *commonFlags) (gateway.Config, error) {
	cfg, _, err := loadConfigFile(f)
	return cfg, err
}

func newLogger(c gateway.LogConfig, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(args []string, stderr io.Writer) int {
	f, err := parseFlags("serve", args, stderr)
	if err != nil {
		return 2
	}
	cfg, err := loadConfig(f)
	if err != nil {
		fmt.Fprintf(stderr, "edgegate: %v\n", err)
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Each SIGTERM/SIGINT also arrives here: the first starts the shutdown
	// (ctx), the second ends its delay.
	term := make(chan os.Signal, 2)
	signal.Notify(term, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(term)
	srv, err := gateway.New(ctx, cfg, log, gateway.WithVersion(version))
	if err != nil {
		log.Error("startup failed", "err", err)
		return 1
	}
	served := make(chan struct{})
	defer close(served)
	go func() {
		for n := 0; ; n++ {
			select {
			case sig := <-term:
				if n == 0 {
					log.Info("signal: shutdown begins", "signal", sig.String())
					continue
				}
				log.Info("second signal: ending the shutdown delay", "signal", sig.String())
				srv.EndShutdownDelay()
			case <-served:
				return
			}
		}
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := srv.Reload(); err != nil {
				log.Error("reload on SIGHUP failed; previous state keeps serving", "err", err)
			} else {
				log.Info("reloaded on SIGHUP")
			}
		}
	}()
	// SIGUSR1: reopen the access log file (logrotate's postrotate).
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	go func() {
		for range usr1 {
			if err := srv.ReopenLogs(); err != nil {
				log.Error("access log reopen on SIGUSR1 failed; still writing to the old file", "err", err)
			} else {
				log.Info("access log reopened on SIGUSR1")
			}
		}
	}()
	if err := srv.Serve(ctx); err != nil {
		log.Error("server stopped", "err", err)
		return 1
	}
	log.Info("stopped cleanly")
	return 0
}

func check(args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags("check", args, stderr)
	if err != nil {
		return 2
	}
	return checkFiles(f, stdout, stderr)
}

type headerList []string

func (h *headerList) String() string     { return fmt.Sprint(*h) }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

func explain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("edgegate explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "edgegate.yaml", "config file")
	rulesPath := fs.String("rules", "", "rules file (overrides the config's rules)")
	ip := fs.String("ip", "", "the TCP peer address of the request")
	region := fs.String("region", "", "the ?region= value")
	var headers headerList
	fs.Var(&headers, "header", "a request header 'Name: value' (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "edgegate explain: want exactly one KEY")
		return 2
	}
	cfg, err := loadConfig(&commonFlags{config: *config, rules: *rulesPath})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx := context.Background()
	srv, err := gateway.New(ctx, cfg, newLogger(gateway.LogConfig{Format: "text", Level: "error"}, stderr))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ex, err := srv.Explain(ctx, gateway.ExplainRequest{Key: fs.Arg(0), Peer: *ip, Region: *region, Headers: headers})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.Encode(ex)
	if ex.Error != "" {
		return 1
	}
	return 0
}

func sign(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("edgegate sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "edgegate.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "edgegate sign: want exactly one PATH like /img/300x200-cover/photos/a.jpg (no query)")
		return 2
	}
	cfg, err := loadConfig(&commonFlags{config: *config})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	signed, err := gateway.Sign(cfg, fs.Arg(0))
	switch {
	case errors.Is(err, gateway.ErrNoSigningKey):
		fmt.Fprintln(stderr, err)
		return 1
	case err != nil:
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintln(stdout, signed)
	return 0
}

// gc lists (or with --apply removes) the stored variants whose source is
// gone or whose source-etag is not the source's ETag, one per line, then
// a summary; exit 1 on an error (what was removed stays removed).
func gc(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("edgegate gc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "edgegate.yaml", "config file")
	rulesPath := fs.String("rules", "", "rules file (overrides the config's rules)")
	apply := fs.Bool("apply", false, "remove what is found (default: only list it)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "edgegate gc: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := loadConfig(&commonFlags{config: *config, rules: *rulesPath})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := gateway.New(ctx, cfg, newLogger(gateway.LogConfig{Format: "text", Level: "error"}, stderr))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	verb := "would remove"
	if *apply {
		verb = "removed"
	}
	st, err := srv.GC(ctx, *apply, func(it gateway.GCItem) {
		fmt.Fprintf(stdout, "%s\t%s/%s\t%s (source %s)\n", verb, it.Bucket, it.Key, it.Reason, it.Source)
	})
	fmt.Fprintf(stdout, "gc: %d stored variants checked, %d no longer match their source, %d removed\n",
		st.Checked, st.Found, st.Removed)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if !*apply && st.Found > 0 {
		fmt.Fprintln(stdout, "gc: dry run; run again with --apply to remove them")
	}
	return 0
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
		return fmt.Sprintf("edgegate %s (%s)", v, bi.GoVersion)
	}
	return "edgegate " + v
}
