// Command edgegate is the edge geo-routing and media gateway.
//
//	edgegate [serve] [flags]       serve the public and admin listeners (the default command)
//	edgegate check   [flags]       validate the config and rules offline
//	edgegate explain [flags] KEY   print the whole routing decision for KEY as JSON
//	edgegate sign    [flags] PATH  print a custom image size's path with its ?sig=
//	edgegate gc      [flags]       list (--apply: remove) stored variants whose source is gone or changed
//	edgegate health  [flags]       ask a running gateway's admin listener for /healthz
//	edgegate version               (also --version, -v) version, commit, build date, Go and libvips
//	edgegate help    [COMMAND]     (also --help, -h) the commands, or one command's flags
//
// The commands are the table in commands(); each one's help is generated
// from the FlagSet it parses (help.go). It parses flags and calls into
// packages gateway and resize; nothing else lives here.
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
	"syscall"

	"github.com/edgegate/edgegate/gateway"
	"github.com/edgegate/edgegate/resize"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command args name (serve when args start with a flag or are
// empty) and returns the exit code: 0, 1 on failure, 2 on bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	name := "serve"
	if len(args) > 0 {
		switch a := args[0]; {
		case isHelpFlag(a):
			name, args = "help", args[1:]
		case a == "-v" || a == "-version" || a == "--version":
			name, args = "version", args[1:]
		case a != "" && a[0] != '-':
			name, args = a, args[1:]
		}
	}
	cmds := commands()
	c := findCommand(cmds, name)
	if c == nil {
		unknownCommand(stderr, name, cmds)
		return 2
	}
	return c.exec(args, stdout, stderr)
}

// commands is every subcommand, in the order help lists them.
func commands() []command {
	return []command{
		{name: "serve", summary: "serve the public and admin listeners (the default command)",
			detail: "Serve the public and admin listeners until SIGTERM or SIGINT. SIGHUP reloads the rules\n" +
				"and GeoIP files; SIGUSR1 reopens the access log file.",
			flags: serveFlags},
		{name: "check", summary: "validate the config and rules offline; every problem as file:line:col, exit 1 on errors",
			flags: checkFlags},
		{name: "explain", args: "KEY", summary: "print the whole routing decision for KEY as JSON",
			detail: "Print the whole routing decision for KEY as JSON: the region and where it came from, the\n" +
				"rule, the bucket, the prefixes tried and the answer; exit 1 when the request would fail.",
			flags: explainFlags},
		{name: "sign", args: "PATH", summary: "print a custom image size's path with its ?sig= (/img/300x200-cover/KEY)",
			flags: signFlags},
		{name: "gc", summary: "list the stored variants whose source is gone or changed; --apply removes them",
			detail: "List the stored variants whose source is gone or whose source-etag is not the source's\n" +
				"ETag, one per line, then a summary. A dry run unless --apply; exit 1 on an error (what\n" +
				"was removed stays removed).",
			flags: gcFlags},
		{name: "health", summary: "ask a running gateway's admin listener for /healthz (the container HEALTHCHECK)",
			legacy: health},
		{name: "version", summary: "print the version, commit, build date, Go and libvips versions (also --version, -v)",
			flags: versionFlags},
		{name: "help", args: "[COMMAND]", summary: "list the commands, or print one command's usage and flags (also --help, -h)",
			flags: helpFlags},
	}
}

type commonFlags struct {
	config, rules, listen, adminListen, logFormat, logLevel string
}

// defineCommon defines the flags serve and check share.
func defineCommon(fs *flag.FlagSet) *commonFlags {
	f := &commonFlags{}
	fs.StringVar(&f.config, "config", defaultConfigFile, "read the configuration from `FILE`")
	fs.StringVar(&f.rules, "rules", "", "read the rules from `FILE` (overrides the config's rules)")
	fs.StringVar(&f.listen, "listen", "", "serve the public listener on `ADDR` (overrides the config's listen)")
	fs.StringVar(&f.adminListen, "admin-listen", "", "serve the admin listener on `ADDR` (overrides the config's admin_listen)")
	fs.StringVar(&f.logFormat, "log-format", "", "log as `FORMAT`: text or json (overrides the config's log.format)")
	fs.StringVar(&f.logLevel, "log-level", "", "log at `LEVEL`: debug, info, warn or error (overrides the config's log.level)")
	return f
}

// noArgs reports a positional argument a command does not take.
func noArgs(fs *flag.FlagSet, stderr io.Writer) bool {
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return false
	}
	return true
}

func versionFlags(*flag.FlagSet) func(*flag.FlagSet, io.Writer, io.Writer) int {
	return func(fs *flag.FlagSet, stdout, stderr io.Writer) int {
		if !noArgs(fs, stderr) {
			return 2
		}
		currentBuild().write(stdout)
		return 0
	}
}

func helpFlags(*flag.FlagSet) func(*flag.FlagSet, io.Writer, io.Writer) int {
	return func(fs *flag.FlagSet, stdout, stderr io.Writer) int {
		cmds := commands()
		switch fs.NArg() {
		case 0:
			overview(stdout, cmds)
			return 0
		case 1:
			c := findCommand(cmds, fs.Arg(0))
			if c == nil {
				unknownCommand(stderr, fs.Arg(0), cmds)
				return 2
			}
			c.usage(stdout)
			return 0
		}
		fmt.Fprintln(stderr, "edgegate help: want at most one COMMAND")
		return 2
	}
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

func serveFlags(fs *flag.FlagSet) func(*flag.FlagSet, io.Writer, io.Writer) int {
	f := defineCommon(fs)
	return func(fs *flag.FlagSet, _, stderr io.Writer) int {
		if !noArgs(fs, stderr) {
			return 2
		}
		return serve(f, stderr)
	}
}

func serve(f *commonFlags, stderr io.Writer) int {
	cfg, err := loadConfig(f)
	if err != nil {
		fmt.Fprintf(stderr, "edgegate: %v\n", err)
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	// libvips' threads and operation cache and glibc's malloc arenas,
	// before any image is processed (an operator's VIPS_CONCURRENCY or
	// MALLOC_ARENA_MAX wins).
	rt, err := resize.ApplyRuntime(cfg.Images.Runtime, os.LookupEnv)
	if err != nil {
		log.Error("startup failed", "err", err)
		return 1
	}
	log.Info("edgegate starting", "version", version, "commit", orUnknown(commit), "libvips", rt.LibvipsVersion,
		"vips_concurrency", rt.VipsConcurrency, "vips_concurrency_from", rt.VipsConcurrencyFrom,
		"vips_cache_max_operations", rt.VipsCacheMaxOperations, "vips_cache_max_mem", rt.VipsCacheMaxMem,
		"vips_cache_max_files", rt.VipsCacheMaxFiles,
		"malloc_arena_max", rt.MallocArenaMax, "malloc_arena_max_from", rt.MallocArenaMaxFrom,
		"vips_vector", rt.VipsVector, "vips_vector_from", rt.VipsVectorFrom)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Each SIGTERM/SIGINT also arrives here: the first starts the shutdown
	// (ctx), the second ends its delay.
	term := make(chan os.Signal, 2)
	signal.Notify(term, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(term)
	srv, err := gateway.New(ctx, cfg, log, gateway.WithVersion(version), gateway.WithRevision(commit))
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

func checkFlags(fs *flag.FlagSet) func(*flag.FlagSet, io.Writer, io.Writer) int {
	f := defineCommon(fs)
	return func(fs *flag.FlagSet, stdout, stderr io.Writer) int {
		if !noArgs(fs, stderr) {
			return 2
		}
		return check(f, stdout, stderr)
	}
}

func check(f *commonFlags, stdout, stderr io.Writer) int {
	return checkFiles(f, stdout, stderr)
}

type headerList []string

func (h *headerList) String() string     { return fmt.Sprint(*h) }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

func explainFlags(fs *flag.FlagSet) func(*flag.FlagSet, io.Writer, io.Writer) int {
	config := fs.String("config", defaultConfigFile, "read the configuration from `FILE`")
	rulesPath := fs.String("rules", "", "read the rules from `FILE` (overrides the config's rules)")
	ip := fs.String("ip", "", "the request comes from the TCP peer `ADDR`")
	region := fs.String("region", "", "the request's ?region= `NAME`")
	headers := &headerList{}
	fs.Var(headers, "header", "a request header `'Name: value'` (repeatable)")
	return func(fs *flag.FlagSet, stdout, stderr io.Writer) int {
		return explain(fs, *config, *rulesPath, *ip, *region, *headers, stdout, stderr)
	}
}

func explain(fs *flag.FlagSet, config, rulesPath, ip, region string, headers headerList, stdout, stderr io.Writer) int {
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "edgegate explain: want exactly one KEY")
		return 2
	}
	cfg, err := loadConfig(&commonFlags{config: config, rules: rulesPath})
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
	ex, err := srv.Explain(ctx, gateway.ExplainRequest{Key: fs.Arg(0), Peer: ip, Region: region, Headers: headers})
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

func signFlags(fs *flag.FlagSet) func(*flag.FlagSet, io.Writer, io.Writer) int {
	config := fs.String("config", defaultConfigFile, "read the configuration (images.signing_keys) from `FILE`")
	return func(fs *flag.FlagSet, stdout, stderr io.Writer) int { return sign(fs, *config, stdout, stderr) }
}

func sign(fs *flag.FlagSet, config string, stdout, stderr io.Writer) int {
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "edgegate sign: want exactly one PATH like /img/300x200-cover/photos/a.jpg (no query)")
		return 2
	}
	cfg, err := loadConfig(&commonFlags{config: config})
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

func gcFlags(fs *flag.FlagSet) func(*flag.FlagSet, io.Writer, io.Writer) int {
	config := fs.String("config", defaultConfigFile, "read the configuration from `FILE`")
	rulesPath := fs.String("rules", "", "read the rules from `FILE` (overrides the config's rules)")
	apply := fs.Bool("apply", false, "remove what is found (default: only list it)")
	return func(fs *flag.FlagSet, stdout, stderr io.Writer) int {
		if !noArgs(fs, stderr) {
			return 2
		}
		return gc(*config, *rulesPath, *apply, stdout, stderr)
	}
}

// gc lists (or with apply removes) the stored variants whose source is
// gone or whose source-etag is not the source's ETag, one per line, then
// a summary; exit 1 on an error (what was removed stays removed).
func gc(config, rulesPath string, apply bool, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(&commonFlags{config: config, rules: rulesPath})
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
	if apply {
		verb = "removed"
	}
	st, err := srv.GC(ctx, apply, func(it gateway.GCItem) {
		fmt.Fprintf(stdout, "%s\t%s/%s\t%s (source %s)\n", verb, it.Bucket, it.Key, it.Reason, it.Source)
	})
	fmt.Fprintf(stdout, "gc: %d stored variants checked, %d no longer match their source, %d removed\n",
		st.Checked, st.Found, st.Removed)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if !apply && st.Found > 0 {
		fmt.Fprintln(stdout, "gc: dry run; run again with --apply to remove them")
	}
	return 0
}
