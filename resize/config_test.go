package resize

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var (
	key32    = bytes.Repeat([]byte{0xA5}, 32)
	key32Hex = hex.EncodeToString(key32)
	key32B64 = base64.StdEncoding.EncodeToString(key32)
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want Transform
	}{
		{"thumbnail", Transform{Preset: "thumbnail", Width: 150, Height: 150, Fit: FitCover, Folder: "thumbnails/"}},
		{"medium", Transform{Preset: "medium", Width: 640, Fit: FitInside, Folder: "medium/"}},
		{"large", Transform{Preset: "large", Width: 1280, Fit: FitInside, Folder: "large/"}},
	}
	for _, tc := range tests {
		got, ok := p.Preset(tc.name)
		if !ok || got != tc.want {
			t.Errorf("preset %s = %+v, %v; want %+v", tc.name, got, ok, tc.want)
		}
	}
	if c.MaxWidth != 4096 || c.MaxHeight != 4096 || c.MaxSourceBytes != 40<<20 || c.MaxSourcePixels != 50_000_000 ||
		c.Quality != (Quality{JPEG: 82, WebP: 80, AVIF: 60, PNG: 6}) || c.AVIFSpeed != 9 || c.BudgetMegapixels != 64 {
		t.Errorf("defaults drifted from the documentation: %+v", c)
	}
}

func TestNewFillsPresetDefaultsAndCopies(t *testing.T) {
	c := DefaultConfig()
	c.Presets = map[string]Preset{"hero": {Width: 1600, Height: 600, Fit: FitCover}, "small": {Width: 64}}
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	c.Presets["hero"] = Preset{Width: 1} // must not leak into p
	hero, _ := p.Preset("hero")
	small, _ := p.Preset("small")
	if hero.Folder != "hero/" || hero.Width != 1600 || small.Fit != FitInside {
		t.Errorf("hero %+v small %+v", hero, small)
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"max width zero", func(c *Config) { c.MaxWidth = 0 }, "max_width"},
		{"max height over libvips", func(c *Config) { c.MaxHeight = 20000 }, "max_height"},
		{"source bytes", func(c *Config) { c.MaxSourceBytes = 0 }, "max_source_bytes"},
		{"source pixels", func(c *Config) { c.MaxSourcePixels = -1 }, "max_source_pixels"},
		{"jpeg quality", func(c *Config) { c.Quality.JPEG = 101 }, "quality.jpeg"},
		{"avif quality", func(c *Config) { c.Quality.AVIF = 0 }, "quality.avif"},
		{"png compression", func(c *Config) { c.Quality.PNG = 10 }, "quality.png"},
		{"avif speed", func(c *Config) { c.AVIFSpeed = 10 }, "avif_speed"},
		{"budget", func(c *Config) { c.BudgetMegapixels = 0 }, "budget_megapixels"},
		{"queue", func(c *Config) { c.MaxQueue = -1 }, "max_queue"},
		{"wait", func(c *Config) { c.MaxWait = 0 }, "max_wait"},
		{"timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout"},
		{"preset name looks custom", func(c *Config) { c.Presets["300x200"] = Preset{Width: 1} }, "looks like a custom size"},
		{"preset name charset", func(c *Config) { c.Presets["Big"] = Preset{Width: 1} }, "a-z"},
		{"preset fit", func(c *Config) { c.Presets["x"] = Preset{Width: 1, Fit: "contain"} }, "fit"},
		{"preset zero size", func(c *Config) { c.Presets["x"] = Preset{} }, "both 0"},
		{"preset cover needs both", func(c *Config) { c.Presets["x"] = Preset{Width: 10, Fit: FitCover} }, "needs both"},
		{"preset negative", func(c *Config) { c.Presets["x"] = Preset{Width: -1, Height: 5} }, "size"},
		{"preset quality", func(c *Config) { c.Presets["x"] = Preset{Width: 5, Quality: 200} }, "quality"},
		{"preset folder absolute", func(c *Config) { c.Presets["x"] = Preset{Width: 5, Folder: "/abs/"} }, "folder"},
		{"preset folder no slash", func(c *Config) { c.Presets["x"] = Preset{Width: 5, Folder: "x"} }, "folder"},
		{"preset folder dotdot", func(c *Config) { c.Presets["x"] = Preset{Width: 5, Folder: "a/../"} }, ".."},
		{"short key", func(c *Config) { c.SigningKeys = []string{hex.EncodeToString(make([]byte, 16))} }, "at least 32"},
		{"bad key", func(c *Config) { c.SigningKeys = []string{key32Hex, "not*a*key"} }, "signing_keys[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "resize: ") {
				t.Fatalf("Validate = %v, want an error mentioning %q", err, tc.want)
			}
			if _, err := New(c); err == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
}

func TestDecodeKeys(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"hex", key32Hex, true},
		{"hex upper", strings.ToUpper(key32Hex), true},
		{"hex prefix", "hex:" + key32Hex, true},
		{"base64 std", key32B64, true},
		{"base64 unpadded", strings.TrimRight(key32B64, "="), true},
		{"base64 url", base64.URLEncoding.EncodeToString(key32), true},
		{"base64 prefix", "base64:" + key32B64, true},
		{"too short", hex.EncodeToString(key32[:31]), false},
		{"hex prefix with base64", "hex:" + key32B64, false},
		{"garbage", "%%%%", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := DecodeKeys([]string{tc.in})
			if tc.ok != (err == nil) {
				t.Fatalf("DecodeKeys(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if tc.ok && !bytes.Equal(keys[0], key32) {
				t.Errorf("decoded %x", keys[0])
			}
			if err != nil && strings.Contains(err.Error(), tc.in) {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
}

func TestApplyEnv(t *testing.T) {
	other := hex.EncodeToString(bytes.Repeat([]byte{7}, 40))
	c := DefaultConfig()
	c.SigningKeys = []string{"from-file"}
	c.ApplyEnv(func(string) (string, bool) { return "", false })
	if len(c.SigningKeys) != 1 || c.SigningKeys[0] != "from-file" {
		t.Errorf("unset env changed keys: %v", c.SigningKeys)
	}
	c.ApplyEnv(func(k string) (string, bool) {
		if k != EnvSigningKeys {
			t.Errorf("read %s", k)
		}
		return " " + key32Hex + " ,, " + other, true
	})
	if len(c.SigningKeys) != 2 || c.SigningKeys[0] != key32Hex || c.SigningKeys[1] != other {
		t.Fatalf("keys = %q", c.SigningKeys)
	}
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	sig, ok := p.Sign("/img/1x1/a.jpg")
	if !ok || !p.Verify("/img/1x1/a.jpg", sig) || sig != Sign(key32, "/img/1x1/a.jpg") {
		t.Error("the first env key does not sign")
	}
}

func TestConfigYAML(t *testing.T) {
	src := `
max_width: 2000
max_wait: 1500ms
quality: {jpeg: 70, webp: 75, avif: 50, png: 9}
avif_speed: 6
presets:
  hero: {width: 1600, height: 600, fit: cover, smart_crop: true, folder: heroes/}
signing_keys: ["` + key32Hex + `"]
`
	c := DefaultConfig()
	c.Presets = nil // replace the defaults rather than merge
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Preset{Width: 1600, Height: 600, Fit: FitCover, SmartCrop: true, Folder: "heroes/"}
	if c.MaxWidth != 2000 || c.MaxHeight != 4096 || c.MaxWait != 1500*time.Millisecond || c.AVIFSpeed != 6 ||
		c.Quality.PNG != 9 || c.Presets["hero"] != want || len(c.Presets) != 1 {
		t.Errorf("decoded %+v", c)
	}
	bad := yaml.NewDecoder(strings.NewReader("max_widht: 3\n"))
	bad.KnownFields(true)
	if err := bad.Decode(&c); err == nil {
		t.Error("unknown field accepted")
	}
}
