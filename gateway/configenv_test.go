package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/resize"
)

// TestConfigFieldEnvNames: every field has its own variable, derived from
// its YAML path, and the secrets read from the environment before every
// field could be keep their names.
func TestConfigFieldEnvNames(t *testing.T) {
	fields := ConfigFields()
	seen := map[string]string{}
	for _, f := range fields {
		if prev, dup := seen[f.Env]; dup {
			t.Errorf("%s and %s both map to %s", prev, f.Path, f.Env)
		}
		seen[f.Env] = f.Path
		if want := "EDGEGATE_" + strings.ToUpper(strings.ReplaceAll(f.Path, ".", "_")); f.Env != want {
			t.Errorf("%s: env %s, want %s", f.Path, f.Env, want)
		}
		if f.Owner == nil || f.GoName == "" || f.Type == "" {
			t.Errorf("%s: incomplete %+v", f.Path, f)
		}
	}
	for env, path := range map[string]string{
		"EDGEGATE_S3_ENDPOINT":                      "s3.endpoint",
		"EDGEGATE_IMAGES_CACHE_BYTES":               "images.cache_bytes",
		"EDGEGATE_GEO_TRUSTED_PROXIES":              "geo.trusted_proxies",
		"EDGEGATE_TLS_HTTP2_MAX_CONCURRENT_STREAMS": "tls.http2.max_concurrent_streams",
		"EDGEGATE_TLS_ACME_STORAGE_BUCKET":          "tls.acme.storage.bucket",
		"EDGEGATE_S3_ACCESS_KEY":                    "s3.access_key",
		"EDGEGATE_S3_SECRET_KEY":                    "s3.secret_key",
		"EDGEGATE_S3_SESSION_TOKEN":                 "s3.session_token",
		"EDGEGATE_ADMIN_TOKEN":                      "admin.token",
		"EDGEGATE_EVENTS_TOKEN":                     "events.token",
		"EDGEGATE_IMAGES_SIGNING_KEYS":              "images.signing_keys",
	} {
		if seen[env] != path {
			t.Errorf("%s sets %q, want %q", env, seen[env], path)
		}
	}
	if len(fields) < 100 {
		t.Errorf("only %d fields", len(fields))
	}
}

func TestConfigFromEnv(t *testing.T) {
	pathStyle := false
	for _, tc := range []struct {
		env   string
		check func(Config) bool
	}{
		{"EDGEGATE_LISTEN=0.0.0.0:80", func(c Config) bool { return c.Listen == "0.0.0.0:80" }},
		{"EDGEGATE_S3_ENDPOINT=http://127.0.0.1:7070", func(c Config) bool { return c.S3.Endpoint == "http://127.0.0.1:7070" }},
		{"EDGEGATE_IMAGES_CACHE_BYTES=1048576", func(c Config) bool { return c.Images.CacheBytes == 1<<20 }},
		{"EDGEGATE_MAX_CONNECTIONS_PER_IP=-1", func(c Config) bool { return c.MaxConnectionsPerIP == -1 }},
		{"EDGEGATE_S3_PATH_STYLE=true", func(c Config) bool { return c.S3.PathStyle }},
		{"EDGEGATE_SHUTDOWN_DELAY=5s", func(c Config) bool { return c.ShutdownDelay == 5*time.Second }},
		{"EDGEGATE_TRACING_SAMPLE_RATIO=0.25", func(c Config) bool { return c.Tracing.SampleRatio == 0.25 }},
		{"EDGEGATE_GEO_TRUSTED_PROXIES=10.0.0.0/8, 192.168.0.0/16", func(c Config) bool {
			return reflect.DeepEqual(c.Geo.TrustedProxies, []string{"10.0.0.0/8", "192.168.0.0/16"})
		}},
		{"EDGEGATE_TRACING_HEADERS=x-api-key=abc,x-team=edge", func(c Config) bool {
			return reflect.DeepEqual(c.Tracing.Headers, map[string]string{"x-api-key": "abc", "x-team": "edge"})
		}},
		{"EDGEGATE_IMAGES_PRESETS={thumb: {width: 100, height: 100, fit: cover}}", func(c Config) bool {
			return len(c.Images.Presets) == 1 && c.Images.Presets["thumb"] == resize.Preset{Width: 100, Height: 100, Fit: resize.FitCover}
		}},
		{"EDGEGATE_S3_BUCKETS={media: {region: eu-west-1, path_style: false}}", func(c Config) bool {
			b := c.S3.Buckets["media"]
			return b.Region == "eu-west-1" && b.PathStyle != nil && *b.PathStyle == pathStyle
		}},
		{"EDGEGATE_ADMIN_TOKEN=s3cret", func(c Config) bool { return c.Admin.Token == "s3cret" }},
		{"EDGEGATE_IMG_SIGNING_KEYS=" + strings.Repeat("ab", 32), func(c Config) bool {
			return reflect.DeepEqual(c.Images.SigningKeys, []string{strings.Repeat("ab", 32)})
		}},
		// An empty variable counts as unset.
		{"EDGEGATE_LISTEN=", func(c Config) bool { return c.Listen == DefaultConfig().Listen }},
		// Variables read on purpose that are not fields are left alone.
		{"EDGEGATE_GEOIP_DIR=/x", func(c Config) bool { return reflect.DeepEqual(c, DefaultConfig()) }},
		{"EDGEGATE_TEST_S3_ENDPOINT=http://x", func(c Config) bool { return reflect.DeepEqual(c, DefaultConfig()) }},
	} {
		t.Run(tc.env, func(t *testing.T) {
			cfg, src, err := LoadConfigFrom(filepath.Join(t.TempDir(), "absent.yaml"), true, []string{"PATH=/bin", tc.env})
			if err != nil {
				t.Fatal(err)
			}
			if src.File() != "" {
				t.Fatalf("File() = %q with no file", src.File())
			}
			if !tc.check(cfg) {
				t.Fatalf("not applied: %+v", cfg)
			}
		})
	}
}

func TestConfigEnvErrors(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want []string
	}{
		{[]string{"EDGEGATE_READ_TIMEOUT=10"}, []string{`EDGEGATE_READ_TIMEOUT: read_timeout: "10": want a duration`}},
		{[]string{"EDGEGATE_MAX_BODY_BYTES=16k"}, []string{`EDGEGATE_MAX_BODY_BYTES: max_body_bytes: "16k": want an integer`}},
		{[]string{"EDGEGATE_S3_PATH_STYLE=maybe"}, []string{`EDGEGATE_S3_PATH_STYLE: s3.path_style: "maybe": want true or false`}},
		{[]string{"EDGEGATE_TRACING_SAMPLE_RATIO=half"}, []string{`EDGEGATE_TRACING_SAMPLE_RATIO: tracing.sample_ratio: "half": want a number`}},
		{[]string{"EDGEGATE_TRACING_HEADERS=novalue"}, []string{`EDGEGATE_TRACING_HEADERS: tracing.headers: "novalue": "novalue": want key=value`}},
		{[]string{"EDGEGATE_IMAGES_PRESETS={thumb: {widht: 1}}"}, []string{`EDGEGATE_IMAGES_PRESETS:1:10: images.presets: thumb.widht: unknown field (did you mean "width"?)`}},
		{[]string{"EDGEGATE_S3_ENDPONT=http://x"}, []string{`EDGEGATE_S3_ENDPONT: no config field has this name (did you mean EDGEGATE_S3_ENDPOINT?)`}},
		{[]string{"EDGEGATE_WHATEVER=1"}, []string{`EDGEGATE_WHATEVER: no config field has this name (docs/config.md lists them all)`}},
		// Every problem at once.
		{[]string{"EDGEGATE_READ_TIMEOUT=x", "EDGEGATE_LISTN=:80"}, []string{"EDGEGATE_READ_TIMEOUT:", "EDGEGATE_LISTN: no config field has this name (did you mean EDGEGATE_LISTEN?)"}},
	} {
		t.Run(strings.Join(tc.env, " "), func(t *testing.T) {
			_, _, err := LoadConfigFrom(filepath.Join(t.TempDir(), "absent.yaml"), true, tc.env)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want a *ConfigError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestConfigPrecedence: the environment wins over the file; relative
// paths from the file are the file's directory's, from the environment
// the working directory's; Validate's problems name the variable that
// set the value.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "edgegate.yaml")
	os.WriteFile(path, []byte("listen: 127.0.0.1:8081\nrules: r.yaml\nread_timeout: 3s\naccess_log: {output: access.log}\n"), 0o644)
	cfg, src, err := LoadConfigFrom(path, false, []string{"EDGEGATE_LISTEN=127.0.0.1:8082", "EDGEGATE_ACCESS_LOG_OUTPUT=logs/a.log"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8082" || cfg.ReadTimeout != 3*time.Second {
		t.Fatalf("listen %q read_timeout %v: want the environment's listen and the file's read_timeout", cfg.Listen, cfg.ReadTimeout)
	}
	if cfg.Rules != filepath.Join(dir, "r.yaml") || cfg.AccessLog.Output != "logs/a.log" {
		t.Fatalf("rules %q, access_log.output %q", cfg.Rules, cfg.AccessLog.Output)
	}
	if err := src.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	cfg, src, err = LoadConfigFrom(path, false, []string{"EDGEGATE_ADMIN_LISTEN=127.0.0.1:8081", "EDGEGATE_SHUTDOWN_DELAY=1h"})
	if err != nil {
		t.Fatal(err)
	}
	err = src.Validate(cfg)
	for _, w := range []string{"EDGEGATE_SHUTDOWN_DELAY: shutdown_delay must be", path + ":1:9: listen and admin_listen must differ"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("validate error lacks %q:\n%v", w, err)
		}
	}
	src.SetByFlag("listen", "listen")
	if err := src.Validate(cfg); err == nil || !strings.Contains(err.Error(), "flag --listen: listen and admin_listen") {
		t.Errorf("a flag's value is not attributed to the flag:\n%v", err)
	}
	// A file that must exist and does not.
	if _, _, err := LoadConfigFrom(filepath.Join(dir, "absent.yaml"), false, nil); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing required file: %v", err)
	}
	// The newer name of the signing keys wins over the older.
	k1, k2 := strings.Repeat("aa", 32), strings.Repeat("bb", 32)
	cfg, _, err = LoadConfigFrom(path, false, []string{"EDGEGATE_IMG_SIGNING_KEYS=" + k1, "EDGEGATE_IMAGES_SIGNING_KEYS=" + k2})
	if err != nil || !reflect.DeepEqual(cfg.Images.SigningKeys, []string{k2}) {
		t.Fatalf("signing keys %v, err %v", cfg.Images.SigningKeys, err)
	}
}

// TestEveryFieldSettableFromEnv: each field takes its default, written as
// the reference writes it, back from the environment (so every type the
// struct uses has a reader), and a value that does not parse is refused
// naming the variable.
func TestEveryFieldSettableFromEnv(t *testing.T) {
	for _, f := range ConfigFields() {
		if f.Default == "" {
			continue
		}
		cfg, _, err := LoadConfigFrom(filepath.Join(t.TempDir(), "absent.yaml"), true, []string{f.Env + "=" + f.Default})
		if err != nil {
			t.Errorf("%s=%s: %v", f.Env, f.Default, err)
			continue
		}
		got := reflect.ValueOf(cfg).FieldByIndex(f.index).Interface()
		want := reflect.ValueOf(DefaultConfig()).FieldByIndex(f.index).Interface()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s=%s: got %v, want %v", f.Env, f.Default, got, want)
		}
	}
}
