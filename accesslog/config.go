package accesslog

import (
	"errors"
	"fmt"
	"time"
)

// Config is the access_log section. The zero value is not valid: start
// from DefaultConfig. Immutable once validated.
type Config struct {
	// Enabled turns the access log on. Default false.
	Enabled bool `yaml:"enabled"`
	// Format is json (default: one JSON object per line) or combined
	// (nginx's combined format, then edgegate's fields as key=value).
	Format string `yaml:"format"`
	// Output is "stdout" (default), "stderr", or a file path (relative to
	// the config file's directory), appended to and reopened on SIGUSR1.
	Output string `yaml:"output"`
	// Sample logs 1 in Sample answers at random; errors (status 400 and
	// above) and answers slower than Slow are always logged. Default 1
	// (every answer); 1..1000000.
	Sample int `yaml:"sample"`
	// Slow: answers that took at least this long are always logged,
	// whatever Sample says. Default 1s; 0 = no such rule.
	Slow time.Duration `yaml:"slow"`
	// Buffer is the number of entries waiting to be written; past it new
	// ones are dropped (edgegate_access_log_dropped_total). Each takes
	// about 1 KiB. Default 8192; 64..1048576, rounded up to a power of two.
	Buffer int `yaml:"buffer"`
	// FlushInterval is how long a line may wait before it is written;
	// lines are written sooner when the buffer is half full. Default
	// 100ms; 1ms..10s.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// RequestID echoes every public answer's request id as X-Request-Id
	// (on every transport) and sends it to S3 with the requests made for
	// it. The id is the X-Request-Id of a trusted proxy (geo.trusted_proxies),
	// else the trace id of its valid W3C traceparent, else a new one.
	// Default false (as nginx and Caddy: no header unless asked); the access
	// log has the id either way when it is enabled.
	RequestID bool `yaml:"request_id"`
}

// Formats.
const (
	FormatJSON     = "json"
	FormatCombined = "combined"
)

// DefaultConfig returns the documented defaults (the log off).
func DefaultConfig() Config {
	return Config{Format: FormatJSON, Output: "stdout", Sample: 1, Slow: time.Second, Buffer: 8192, FlushInterval: 100 * time.Millisecond}
}

// Validate reports every mistake at once, prefixed with the section name.
func (c Config) Validate() error {
	var errs []error
	switch c.Format {
	case FormatJSON, FormatCombined:
	default:
		errs = append(errs, fmt.Errorf("config: access_log.format %q: want json or combined", c.Format))
	}
	if c.Output == "" {
		errs = append(errs, errors.New(`config: access_log.output: want "stdout", "stderr" or a file path`))
	}
	if c.Sample < 1 || c.Sample > 1000000 {
		errs = append(errs, fmt.Errorf("config: access_log.sample must be 1..1000000 (log 1 in N), not %d", c.Sample))
	}
	if c.Slow < 0 {
		errs = append(errs, fmt.Errorf("config: access_log.slow must not be negative (0 = off), not %s", c.Slow))
	}
	if c.Buffer < 64 || c.Buffer > 1<<20 {
		errs = append(errs, fmt.Errorf("config: access_log.buffer must be 64..1048576 entries, not %d", c.Buffer))
	}
	if c.FlushInterval < time.Millisecond || c.FlushInterval > 10*time.Second {
		errs = append(errs, fmt.Errorf("config: access_log.flush_interval must be 1ms..10s, not %s", c.FlushInterval))
	}
	return errors.Join(errs...)
}
