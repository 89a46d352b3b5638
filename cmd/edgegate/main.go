// Command edgegate is the edge geo-routing and media gateway.
//
//	edgegate [serve] [--config edgegate.yaml] [--rules F] [--listen A] [--admin-listen A] [--log-format text|json]
//	edgegate check   [--config edgegate.yaml] [--rules F]
//	edgegate version
//
// It parses flags and calls into package gateway; nothing else lives here.
package main

import (
	"context"
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
	"github.com/edgegate/edgegate/rules"
)

// version is set at build time with -ldflags "-X main.version=...".
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
	cfg, err := gateway.LoadConfig(f.config)
	if err != nil {
		return cfg, err
	}
	if f.rules != "" {
		cfg.Rules = f.rules
	}
	if f.listen != "" {
		cfg.Listen = f.listen
	}
	if f.adminListen != "" {
		cfg.AdminListen = f.adminListen
	}
	if f.logFormat != "" {
		cfg.Log.Format = f.logFormat
	}
	if f.logLevel != "" {
		cfg.Log.Level = f.logLevel
	}
	return cfg, cfg.Validate()
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
	srv, err := gateway.New(ctx, cfg, log)
	if err != nil {
		log.Error("startup failed", "err", err)
		return 1
	}
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
	cfg, err := loadConfig(f)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	t, err := rules.LoadFile(cfg.Rules)
	if err != nil {
		var re *rules.Error
		if errors.As(err, &re) {
			fmt.Fprintln(stderr, re.Error())
		} else {
			fmt.Fprintf(stderr, "%v\n", err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (rules %s: %d regions, %d routes, hash %s)\n",
		f.config, t.Source(), len(t.Regions()), len(t.Routes()), t.Hash())
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
