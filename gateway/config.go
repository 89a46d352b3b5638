package gateway

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/edgegate/edgegate/accesslog"
	"github.com/edgegate/edgegate/geo"
	"github.com/edgegate/edgegate/imgproxy"
	"github.com/edgegate/edgegate/internal/problem"
	"github.com/edgegate/edgegate/presign"
	"github.com/edgegate/edgegate/resize"
	"github.com/edgegate/edgegate/store"
	"github.com/edgegate/edgegate/telemetry"
)

// Config is the whole gateway configuration, read once from a YAML file
// and validated; it is not modified after Validate.
type Config struct {
	// Listen is the public address. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// ListenTLS is the HTTPS address: HTTP/1.1 and HTTP/2, and HTTP/3 on
	// its UDP port with tls.http3. Empty (default): no HTTPS.
	ListenTLS string `yaml:"listen_tls"`
	// TLS: certificates, HTTP/3, handshakes, and what the plain listener
	// does when HTTPS is on.
	TLS TLSConfig `yaml:"tls"`
	// AdminListen is the admin address (health, metrics, debug, reload).
	// Default 127.0.0.1:9090: loopback only unless you say otherwise.
	AdminListen string `yaml:"admin_listen"`
	// Admin: accepted Host names, the token for reload and events, and
	// the admin listener's timeouts.
	Admin AdminConfig `yaml:"admin"`
	// Rules is the rules file path, relative to the config file's directory.
	Rules string `yaml:"rules"`
	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// after SIGTERM. Default 10s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// ShutdownDelay is how long, after SIGTERM, /readyz answers 503 while
	// the public listener still accepts and answers normally, so that load
	// balancers (a Kubernetes Service, an ALB target group) stop sending
	// before the listeners close; shutdown_timeout starts after it. A
	// second SIGTERM or SIGINT ends it early. Default 0s (none: the
	// listeners close at once); behind a Kubernetes Service 5s is typical.
	// 0..5m.
	ShutdownDelay time.Duration `yaml:"shutdown_delay"`
	// ReadTimeout and WriteTimeout bound one public request. Default 10s each.
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// MaxUnsentBytes bounds, in bytes, the answers an event-loop
	// connection holds that its client has not read yet: past it the loop
	// reads and answers none of the connection's pipelined requests until
	// the client reads. Default 65536 (64 KiB); 4096..67108864.
	MaxUnsentBytes int `yaml:"max_unsent_bytes"`
	// MaxBodyBytes bounds, in bytes, a public request's body, which no
	// public path reads (/r/ and /img/ answer GET and HEAD) but which
	// fasthttp holds in memory while the request is read: a longer one is
	// answered 413 and the connection closed. Default 16384 (16 KiB);
	// 1..67108864.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// MaxConnections bounds the public listener's open connections, event
	// loops and fasthttp together. When it is reached a new connection
	// closes the longest-idle ones (as nginx drains: an eighth of the idle
	// connections, 1 to 32 at a time), or is closed at once when none is
	// idle. 0 (default) = the open-file limit (RLIMIT_NOFILE) less a
	// reserve of max(128, limit/8) descriptors for S3, the admin listener
	// and files; a value that leaves less than that reserve is an error.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerIP bounds the public connections from one client
	// address (the TCP peer; geo.trusted_proxies are exempt): past it a
	// new one is closed at once. Default 256; -1 = no limit.
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// EventLoops is the number of epoll event loops that answer /r/ on the
	// public listener (internal/evloop); other requests, and connections
	// the loops cannot take, go to fasthttp. 0 (default) = one per CPU;
	// -1 = off: fasthttp serves everything. Linux only; elsewhere off.
	EventLoops int          `yaml:"event_loops"`
	Log        LogConfig    `yaml:"log"`
	S3         store.Config `yaml:"s3"`
	// Geo: trusted proxies, CDN geo headers and GeoIP databases (paths
	// relative to the config file's directory).
	Geo geo.Config `yaml:"geo"`
	// Presign: signing window, URL cache size, CloudFront keys.
	Presign presign.Config `yaml:"presign"`
	// Images configures /img/ (presets, limits, formats, admission,
	// signing keys, variant cache, write-back).
	Images ImagesConfig `yaml:"images"`
	// Imgproxy serves imgproxy's URLs (/imgproxy/{signature}/{options}/
	// plain/{source} and the base64 form) from the rules' buckets: off by
	// default; keys, salts, signature size and the source prefixes that
	// map source URLs to keys (docs/imgproxy.md).
	Imgproxy imgproxy.Config `yaml:"imgproxy"`
	// Events: eager rendering of uploads announced by S3 event
	// notifications (admin POST /events/s3).
	Events EventsConfig `yaml:"events"`
	// GC: removing stored variants whose source is gone or changed
	// (`edgegate gc`, gc.schedule).
	GC GCConfig `yaml:"gc"`
	// Exists tunes the existence checks of routes with `fallback: exists`.
	Exists ExistsConfig `yaml:"exists"`
	// Readiness: how often /readyz's background S3 check runs, its
	// timeout, and how many failures in a row make it 503.
	Readiness ReadinessConfig `yaml:"readiness"`
	// Tracing: OpenTelemetry traces over OTLP (off by default; see
	// telemetry.Config).
	Tracing telemetry.Config `yaml:"tracing"`
	// AccessLog: one line per answered public request (off by default),
	// and request ids (X-Request-Id).
	AccessLog accesslog.Config `yaml:"access_log"`
}

// ExistsConfig bounds the HEAD-request cache behind `fallback: exists`.
type ExistsConfig struct {
	// TTL keeps a "found" answer. Default 60s.
	TTL time.Duration `yaml:"ttl"`
	// NegativeTTL keeps a "not found" answer. Default 10s.
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// MaxEntries bounds the cache of objects that exist. Default 100000.
	MaxEntries int `yaml:"max_entries"`
	// NegativeMaxEntries bounds the separate cache of "not found"
	// answers, so that requests for random keys evict only each other,
	// never the objects that exist. Default 20000.
	NegativeMaxEntries int `yaml:"negative_max_entries"`
	// MaxWaiting bounds the route requests the event loops run off-loop
	// (a goroutine each) while their existence checks wait on S3; past it
	// a request is answered 503 with Retry-After at once. Concurrent S3
	// requests themselves are bounded by s3.max_concurrent. Default 1024.
	MaxWaiting int `yaml:"max_waiting"`
	// StaleIfError keeps answering from a cached answer (found or not
	// found) past its stale-while-revalidate window, for up to this long
	// after it expired, while S3 fails (the last HEAD was an error: a
	// timeout, a refused connection, a 5xx, s3.max_concurrent full);
	// refreshes keep being tried, one per object at a time. Answers stay
	// in memory this long past their ttl (within max_entries). Default 1h;
	// 0 = off.
	StaleIfError time.Duration `yaml:"stale_if_error"`
}

// LogConfig selects the log format and level.
type LogConfig struct {
	Format string `yaml:"format"` // text (default) | json
	Level  string `yaml:"level"`  // debug | info (default) | warn | error
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		AdminListen:     "127.0.0.1:9090",
		Admin:           AdminConfig{ReadTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 60 * time.Second},
		Rules:           "rules.yaml",
		ShutdownTimeout: 10 * time.Second,
		ReadTimeout:     10 * time.Second,
		WriteTimeout:    10 * time.Second,
		MaxUnsentBytes:  64 << 10,
		MaxBodyBytes:    16 << 10,
		Log:             LogConfig{Format: "text", Level: "info"},
		Images:          ImagesConfig{Config: resize.DefaultConfig(), CacheBytes: 256 << 20, MaxAge: 24 * time.Hour, SourceBytesInFlight: 256 << 20, FailureCacheEntries: 10000, Runtime: resize.DefaultRuntime()},
		Imgproxy:        imgproxy.DefaultConfig(),
		Events:          EventsConfig{Queue: 256, Workers: 1, SNS: defaultSNSConfig()},
		GC:              GCConfig{PageSize: 1000},
		Exists:          ExistsConfig{TTL: 60 * time.Second, NegativeTTL: 10 * time.Second, MaxEntries: 100000, NegativeMaxEntries: 20000, MaxWaiting: 1024, StaleIfError: time.Hour},
		Readiness:       ReadinessConfig{Interval: 5 * time.Second, Timeout: 2 * time.Second, Failures: 3},
		Tracing:         telemetry.DefaultConfig(),
		AccessLog:       accesslog.DefaultConfig(),

		MaxConnectionsPerIP: 256,
	}
}

// LoadConfig reads path strictly over the defaults (every unknown field,
// duplicate key and badly typed value is reported at once, each with its
// line and column), applies the EDGEGATE_ environment variables over it
// and resolves the file's relative paths against its directory; see
// LoadConfigFrom. It does not validate: call Validate (or
// ConfigSource.Validate for positions).
func LoadConfig(path string) (Config, error) {
	cfg, _, err := LoadConfigFrom(path, false, os.Environ())
	if err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// resolvePaths makes the file's relative paths relative to its directory.
func (cfg *Config) resolvePaths(path string) {
	if cfg.Rules != "" && !filepath.IsAbs(cfg.Rules) {
		cfg.Rules = filepath.Join(filepath.Dir(path), cfg.Rules)
	}
	for i, k := range cfg.Presign.CloudFront.Keys {
		if k.PrivateKeyFile != "" && !filepath.IsAbs(k.PrivateKeyFile) {
			cfg.Presign.CloudFront.Keys[i].PrivateKeyFile = filepath.Join(filepath.Dir(path), k.PrivateKeyFile)
		}
	}
	cfg.resolveTLSPaths(filepath.Dir(path))
	if o := cfg.AccessLog.Output; o != "stdout" && o != "stderr" && o != "" && !filepath.IsAbs(o) {
		cfg.AccessLog.Output = filepath.Join(filepath.Dir(path), o)
	}
	for i, db := range cfg.Geo.Databases {
		if db != "" && !filepath.IsAbs(db) {
			cfg.Geo.Databases[i] = filepath.Join(filepath.Dir(path), db)
		}
	}
}

// ParseConfig decodes data strictly over the defaults. name prefixes
// errors. The error is a *ConfigError listing every unknown field (with
// the closest known one), duplicate key and badly typed value, each at
// name:line:col; the Config returned with it holds what could be decoded.
func ParseConfig(name string, data []byte) (Config, error) {
	cfg, _, problems := parseConfig(name, data)
	if len(problems) > 0 {
		return cfg, &ConfigError{Problems: problem.Sort(problems)}
	}
	return cfg, nil
}

// Validate reports every configuration mistake at once.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("config: listen %q: %w", c.Listen, err))
	}
	if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
		errs = append(errs, fmt.Errorf("config: admin_listen %q: %w", c.AdminListen, err))
	}
	if err := c.Admin.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Listen == c.AdminListen {
		errs = append(errs, fmt.Errorf("config: listen and admin_listen must differ (both %q)", c.Listen))
	}
	if c.Rules == "" {
		errs = append(errs, errors.New("config: rules: a rules file is required"))
	}
	if c.EventLoops < -1 || c.EventLoops > 1024 {
		errs = append(errs, fmt.Errorf("config: event_loops must be -1 (off), 0 (one per CPU) or 1..1024, not %d", c.EventLoops))
	}
	errs = append(errs, c.validateTLS()...)
	if err := c.validateConns(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxUnsentBytes < 4<<10 || c.MaxUnsentBytes > 64<<20 {
		errs = append(errs, fmt.Errorf("config: max_unsent_bytes must be 4096..67108864, not %d", c.MaxUnsentBytes))
	}
	if c.MaxBodyBytes < 1 || c.MaxBodyBytes > 64<<20 {
		errs = append(errs, fmt.Errorf("config: max_body_bytes must be 1..67108864, not %d", c.MaxBodyBytes))
	}
	if c.ShutdownTimeout <= 0 || c.ReadTimeout <= 0 || c.WriteTimeout <= 0 {
		errs = append(errs, errors.New("config: shutdown_timeout, read_timeout and write_timeout must be positive"))
	}
	if c.ShutdownDelay < 0 || c.ShutdownDelay > 5*time.Minute {
		errs = append(errs, fmt.Errorf("config: shutdown_delay must be 0s..5m, not %s", c.ShutdownDelay))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("config: log.format %q: want text or json", c.Log.Format))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("config: log.level %q: want debug, info, warn or error", c.Log.Level))
	}
	if c.Exists.TTL <= 0 || c.Exists.NegativeTTL <= 0 || c.Exists.MaxEntries <= 0 || c.Exists.NegativeMaxEntries <= 0 || c.Exists.MaxWaiting <= 0 {
		errs = append(errs, errors.New("config: exists.ttl, exists.negative_ttl, exists.max_entries, exists.negative_max_entries and exists.max_waiting must be positive"))
	}
	if err := c.Readiness.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Tracing.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.AccessLog.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Exists.StaleIfError < 0 {
		errs = append(errs, fmt.Errorf("config: exists.stale_if_error must not be negative (0 = off), not %v", c.Exists.StaleIfError))
	}
	if err := c.Images.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Images.Runtime.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Images.SourceBytesInFlight < 1<<20 || c.Images.FailureCacheEntries <= 0 {
		errs = append(errs, fmt.Errorf("config: images.source_bytes_in_flight (%d) must be at least 1 MiB and images.failure_cache_entries (%d) positive",
			c.Images.SourceBytesInFlight, c.Images.FailureCacheEntries))
	}
	if c.Images.CacheBytes < 0 || c.Images.MaxAge < 0 {
		errs = append(errs, errors.New("config: images.cache_bytes and images.max_age must not be negative"))
	}
	if err := c.Imgproxy.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Events.validate(c.Images.Presets); err != nil {
		errs = append(errs, err)
	}
	if err := c.Events.validateSQS(); err != nil {
		errs = append(errs, err)
	}
	if err := c.GC.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Presign.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Geo.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.S3.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
