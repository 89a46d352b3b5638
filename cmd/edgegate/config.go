package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/edgegate/edgegate/gateway"
	"github.com/edgegate/edgegate/rules"
)

// defaultConfigFile is --config's default. When it does not exist the
// configuration is the defaults and the EDGEGATE_ environment variables
// (as with Caddy and imgproxy, a server configured only by its
// environment); a --config naming another file that does not exist is an
// error.
const defaultConfigFile = "edgegate.yaml"

// loadConfigFile reads the configuration in order of precedence:
// defaults < config file < EDGEGATE_ environment < command-line flags,
// then validates it. Every problem of the file, the environment and
// validation is reported at once, each with where it comes from
// (file:line:col, the variable or the flag). The Config is returned even
// with an error, as far as it could be read.
func loadConfigFile(f *commonFlags) (gateway.Config, *gateway.ConfigSource, error) {
	cfg, src, err := gateway.LoadConfigFrom(f.config, f.config == defaultConfigFile, os.Environ())
	var loadErr *gateway.ConfigError
	if err != nil && !errors.As(err, &loadErr) {
		return cfg, src, err // the file could not be read
	}
	for _, o := range []struct {
		v          string
		path, flag string
		set        *string
	}{
		{f.rules, "rules", "rules", &cfg.Rules},
		{f.listen, "listen", "listen", &cfg.Listen},
		{f.adminListen, "admin_listen", "admin-listen", &cfg.AdminListen},
		{f.logFormat, "log.format", "log-format", &cfg.Log.Format},
		{f.logLevel, "log.level", "log-level", &cfg.Log.Level},
	} {
		if o.v != "" {
			*o.set = o.v
			src.SetByFlag(o.path, o.flag)
		}
	}
	return cfg, src, gateway.MergeConfigErrors(err, src.Validate(cfg))
}

// checkFiles is `edgegate check`: the config (file, environment, flags)
// and the rules file, offline. It prints every problem of both, then
// exits 1; with none, a summary and exit 0.
func checkFiles(f *commonFlags, stdout, stderr io.Writer) int {
	cfg, src, err := loadConfigFile(f)
	if err != nil {
		fmt.Fprintln(stderr, err)
		// The rules file too, so that one run shows the problems of both.
		if cfg.Rules != "" {
			if _, rerr := rules.LoadFile(cfg.Rules); rerr != nil {
				fmt.Fprintln(stderr, rerr)
			}
		}
		return 1
	}
	r, err := gateway.Check(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	name := src.File()
	if name == "" {
		name = "(no config file: defaults and environment)"
	}
	fmt.Fprintf(stdout, "%s: ok (rules %s: %d regions, %d routes, hash %s; %d GeoIP databases)\n",
		name, r.Rules, r.Regions, r.Routes, r.Hash, r.Databases)
	return 0
}
