package gateway

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// loadAndValidate is what `edgegate check` does with a config file and no
// environment: every problem of the file, then of Validate.
func loadAndValidate(path string, environ []string) error {
	cfg, src, err := LoadConfigFrom(path, false, environ)
	if err != nil {
		var ce *ConfigError
		if !errors.As(err, &ce) {
			return err
		}
	}
	return MergeConfigErrors(err, src.Validate(cfg))
}

// TestConfigFileProblems: each testdata/config file's problems, all of
// them at once, each at file:line:col, as the .want golden file lists
// them (EDGEGATE_UPDATE_GOLDEN=1 rewrites those), and the lines that
// matter most named here.
func TestConfigFileProblems(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"unknown-fields", []string{
			`unknown-fields.yaml:4:3: s3.endpont: unknown field (did you mean "endpoint"?)`,
			`unknown-fields.yaml:7:3: images.cache_byte: unknown field (did you mean "cache_bytes"?)`,
			`unknown-fields.yaml:11:7: images.presets.thumb.heigth: unknown field (did you mean "height"?)`,
			`unknown-fields.yaml:14:3: log.colour: unknown field (known in log: format, level)`,
			`unknown-fields.yaml:15:27: tracing.sample_rate: unknown field (did you mean "sample_ratio"?)`,
		}},
		{"types", []string{
			`types.yaml:2:15: read_timeout: want a duration (like 500ms, 10s, 1m30s), not "10"`,
			`types.yaml:3:16: write_timeout: want a duration (like 500ms, 10s, 1m30s), not "fast"`,
			`types.yaml:4:17: max_body_bytes: want an integer, not "16k"`,
			`types.yaml:5:14: event_loops: want an integer, not a list`,
			`types.yaml:7:20: geo.trusted_proxies: want a list of strings, not "10.0.0.0/8"`,
			`types.yaml:8:16: geo.cdn_headers: want true or false, not "maybe"`,
			`types.yaml:12:19: s3.buckets.media.path_style: want true or false, not "sometimes"`,
			`types.yaml:14:17: tracing.sample_ratio: want a number, not "half"`,
			`types.yaml:15:12: tracing.headers: want a mapping, not list`,
		}},
		{"duplicates", []string{
			`duplicates.yaml:3:1: listen: duplicate field (first set at line 1)`,
			`duplicates.yaml:6:3: s3.region: duplicate field (first set at line 5)`,
		}},
		{"syntax", []string{`syntax.yaml:`, `invalid YAML`}},
		{"validate", []string{
			`validate.yaml:1:9: listen "not-an-address"`,
			`validate.yaml:4:17: max_body_bytes must be 1..67108864, not 0`,
			`validate.yaml:6:10: log.level "loud"`,
			`validate.yaml:8:33: geo: trusted_proxies[1]: invalid IP "300.1.1.1"`,
			`validate.yaml:10:13: store: endpoint "ftp://example.com"`,
			`validate.yaml:12:14: resize: max_width 99999`,
			`validate.yaml:14:19: exists.stale_if_error must not be negative`,
		}},
		{"mixed", []string{
			`mixed.yaml:3:1: admin_lisen: unknown field (did you mean "admin_listen"?)`,
			`mixed.yaml:4:17: shutdown_delay must be 0s..5m, not 1h0m0s`,
			`mixed.yaml:5:15: read_timeout: want a duration`,
		}},
		{"top-list", []string{`top-list.yaml:1:1: top level: want a mapping of fields, not list`}},
		{"two-docs", []string{`two-docs.yaml:2:1: a config file holds one YAML document`}},
		{"valid", nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "config", tc.file+".yaml")
			err := loadAndValidate(path, nil)
			got := ""
			if err != nil {
				got = err.Error() + "\n"
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want no problem, got:\n%s", got)
				}
				return
			}
			if err == nil {
				t.Fatal("want problems, got none")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T, want *ConfigError: %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q in:\n%s", w, got)
				}
			}
			golden := strings.TrimSuffix(path, ".yaml") + ".want"
			if os.Getenv("EDGEGATE_UPDATE_GOLDEN") == "1" {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (EDGEGATE_UPDATE_GOLDEN=1 writes it)", err)
			}
			if got != string(want) {
				t.Errorf("problems differ from %s (EDGEGATE_UPDATE_GOLDEN=1 rewrites it)\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// TestParseConfigAgreesWithStrictDecode: what ParseConfig accepts, the
// strict yaml.v3 decoder it replaces accepts too, into the same Config;
// and what that decoder refuses, ParseConfig refuses.
func TestParseConfigAgreesWithStrictDecode(t *testing.T) {
	files, _ := filepath.Glob("testdata/config/*.yaml")
	if len(files) < 5 {
		t.Fatalf("testdata/config holds %d files", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkAgainstStrict(t, f, data)
	}
}

func strictDecode(data []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&cfg)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return cfg, err
}

func checkAgainstStrict(t *testing.T, name string, data []byte) {
	t.Helper()
	got, err := ParseConfig(name, data)
	want, strictErr := strictDecode(data)
	if err == nil {
		if strictErr != nil {
			t.Fatalf("%s: ParseConfig accepted what the strict decoder refuses (%v):\n%s", name, strictErr, data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: ParseConfig decoded\n%+v\nthe strict decoder\n%+v", name, got, want)
		}
		return
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) == 0 {
		t.Fatalf("%s: error %T %v, want a *ConfigError with problems", name, err, err)
	}
	for _, p := range ce.Problems {
		if p.File != name || p.Line < 1 || p.Col < 1 || p.Msg == "" {
			t.Fatalf("%s: problem without a position: %+v", name, p)
		}
	}
	if strictErr == nil && !bytes.Contains(data, []byte("---")) && !bytes.Contains(data, []byte("<<")) {
		t.Fatalf("%s: ParseConfig refused (%v) what the strict decoder accepts:\n%s", name, err, data)
	}
}

// FuzzParseConfig: ParseConfig never panics, every problem has a
// position, and it agrees with the strict decoder (see above).
func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/config/*.yaml")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{"", "{}", "listen: [", "a: &x 1\nb: *x\n", "s3: {buckets: {a: {path_style: null}}}", "images: {presets: {x: ~}}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		checkAgainstStrict(t, "fuzz.yaml", data)
	})
}
