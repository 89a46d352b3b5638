package imgproxy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/resize"
)

// The documentation's example source: http://example.com/images/curiosity.jpg
// in base64url, split by "/" as the documentation splits it.
const (
	docSourceB64   = "aHR0cDovL2V4YW1w/bGUuY29tL2ltYWdl/cy9jdXJpb3NpdHku/anBn"
	docSourcePlain = "http://example.com/images/curiosity.jpg"
	docKey         = "images/curiosity.jpg"
)

var testPresets = map[string]resize.Transform{
	"thumbnail": {Preset: "thumbnail", Width: 150, Height: 150, Fit: resize.FitCover, Folder: "thumbnails/"},
	"sharp":     {Preset: "sharp", Fit: resize.FitInside, Sharpen: 1, Folder: "sharp/"},
	"small":     {Preset: "small", Width: 100, Fit: resize.FitInside, Quality: 50, Folder: "small/"},
}

func testLimits() Limits {
	return Limits{MaxWidth: 4096, MaxHeight: 4096, Preset: func(n string) (resize.Transform, bool) {
		t, ok := testPresets[n]
		return t, ok
	}}
}

func newParser(t testing.TB, mod func(*Config)) *Parser {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.AllowInsecure = true
	cfg.SourcePrefixes = []string{"http://example.com/", "s3://photos/", "local:///"}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg, testLimits())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var now = time.Unix(1_800_000_000, 0)

// TestDocumentationURLs parses the URLs of imgproxy's "Generating the URL"
// guide (its example, in full, short and base64 spellings) and URLs built
// from each option's documented syntax; the expected transforms follow the
// options' documented meaning.
func TestDocumentationURLs(t *testing.T) {
	p := newParser(t, nil)
	fill300x400smart := resize.Transform{Width: 300, Height: 400, Fit: resize.FitCover, Gravity: resize.GravitySmart, Sharpen: 1}
	for _, tc := range []struct {
		name, path string
		want       resize.Transform
		format     resize.Format
		key        string
	}{
		{"guide example, full names", "/sig/preset:sharp/resize:fill:300:400:0/gravity:sm/plain/" + docSourcePlain + "@png", fill300x400smart, resize.PNG, docKey},
		{"guide example, short names", "/sig/pr:sharp/rs:fill:300:400:0/g:sm/plain/" + docSourcePlain + "@png", fill300x400smart, resize.PNG, docKey},
		{"guide example, base64 source", "/sig/pr:sharp/rs:fill:300:400:0/g:sm/" + docSourceB64 + ".png", fill300x400smart, resize.PNG, docKey},
		{"signing guide example", "/insecure/rs:fill:300:400:0/g:sm/" + docSourceB64 + ".png",
			resize.Transform{Width: 300, Height: 400, Fit: resize.FitCover, Gravity: resize.GravitySmart}, resize.PNG, docKey},
		{"no options, no extension", "/_/plain/" + docSourcePlain, resize.Transform{Fit: resize.FitInside}, 0, docKey},
		{"escaped plain source", "/_/w:300/plain/http%3A%2F%2Fexample.com%2Fimages%2Fcuriosity.jpg", resize.Transform{Width: 300, Fit: resize.FitInside}, 0, docKey},
		{"fit is the default type", "/_/s:300:200/plain/" + docSourcePlain, resize.Transform{Width: 300, Height: 200, Fit: resize.FitInside}, 0, docKey},
		{"width and height options", "/_/w:300/h:200/rt:fill/plain/" + docSourcePlain, resize.Transform{Width: 300, Height: 200, Fit: resize.FitCover}, 0, docKey},
		{"fill with one side fits", "/_/rs:fill:300:0/plain/" + docSourcePlain, resize.Transform{Width: 300, Fit: resize.FitInside}, 0, docKey},
		{"force", "/_/rs:force:300:200/plain/" + docSourcePlain, resize.Transform{Width: 300, Height: 200, Fit: resize.FitFill}, 0, docKey},
		{"force keeps the source's height", "/_/rs:force:300:0/plain/" + docSourcePlain, resize.Transform{Width: 300, Fit: resize.FitFill}, 0, docKey},
		{"fill-down", "/_/rs:fill-down:300:200/plain/" + docSourcePlain, resize.Transform{Width: 300, Height: 200, Fit: FitFillDown}, 0, docKey},
		{"fill-down with enlarge is fill", "/_/rs:fill-down:300:200:1/plain/" + docSourcePlain, resize.Transform{Width: 300, Height: 200, Fit: resize.FitCover, Upscale: true}, 0, docKey},
		{"auto", "/_/rs:auto:300:200/plain/" + docSourcePlain, resize.Transform{Width: 300, Height: 200, Fit: FitAuto}, 0, docKey},
		{"enlarge t", "/_/s:300:200:t/plain/" + docSourcePlain, resize.Transform{Width: 300, Height: 200, Fit: resize.FitInside, Upscale: true}, 0, docKey},
		{"enlarge option", "/_/w:300/el:true/plain/" + docSourcePlain, resize.Transform{Width: 300, Fit: resize.FitInside, Upscale: true}, 0, docKey},
		{"extend in size", "/_/s:300:200:0:1:so/plain/" + docSourcePlain, resize.Transform{Width: 300, Height: 200, Fit: resize.FitInside, Extend: true, ExtendGravity: resize.GravitySouth}, 0, docKey},
		{"extend option", "/_/rs:fit:300:200/ex:1/plain/" + docSourcePlain, resize.Transform{Width: 300, Height: 200, Fit: resize.FitInside, Extend: true}, 0, docKey},
		{"dpr", "/_/w:300/dpr:2/plain/" + docSourcePlain, resize.Transform{Width: 300, Fit: resize.FitInside, DPR: 2}, 0, docKey},
		{"gravity edge", "/_/rs:fill:300:200/g:noea/plain/" + docSourcePlain, resize.Transform{Width: 300, Height: 200, Fit: resize.FitCover, Gravity: resize.GravityNorthEast}, 0, docKey},
		{"gravity with zero offsets", "/_/rs:fill:300:200/g:we:0:0/plain/" + docSourcePlain, resize.Transform{Width: 300, Height: 200, Fit: resize.FitCover, Gravity: resize.GravityWest}, 0, docKey},
		{"focus point", "/_/rs:fill:300:200/g:fp:0.25:0.75/plain/" + docSourcePlain, resize.Transform{Width: 300, Height: 200, Fit: resize.FitCover, Gravity: resize.GravityFocus, FocusX: 0.25, FocusY: 0.75}, 0, docKey},
		{"crop takes the gravity option", "/_/c:500:400/g:so/w:100/plain/" + docSourcePlain,
			resize.Transform{Width: 100, Fit: resize.FitInside, Gravity: resize.GravitySouth, Crop: resize.Crop{Width: 500, Height: 400, Gravity: resize.GravitySouth}}, 0, docKey},
		{"crop with its own gravity", "/_/crop:500:0:fp:0.1:0.2/plain/" + docSourcePlain,
			resize.Transform{Fit: resize.FitInside, Crop: resize.Crop{Width: 500, Gravity: resize.GravityFocus, FocusX: 0.1, FocusY: 0.2}}, 0, docKey},
		{"quality", "/_/q:65/plain/" + docSourcePlain, resize.Transform{Fit: resize.FitInside, Quality: 65}, 0, docKey},
		{"blur and sharpen", "/_/bl:2.5/sh:0.5/plain/" + docSourcePlain, resize.Transform{Fit: resize.FitInside, Blur: 2.5, Sharpen: 0.5}, 0, docKey},
		{"background r:g:b", "/_/bg:255:0:10/plain/" + docSourcePlain, resize.Transform{Fit: resize.FitInside, HasBackground: true, Background: resize.Color{R: 255, B: 10}}, 0, docKey},
		{"background hex", "/_/bg:00ff80/plain/" + docSourcePlain, resize.Transform{Fit: resize.FitInside, HasBackground: true, Background: resize.Color{G: 255, B: 128}}, 0, docKey},
		{"background removed", "/_/bg:00ff80/bg:/plain/" + docSourcePlain, resize.Transform{Fit: resize.FitInside}, 0, docKey},
		{"padding, one value", "/_/pd:10/plain/" + docSourcePlain, resize.Transform{Fit: resize.FitInside, Padding: resize.Padding{Top: 10, Right: 10, Bottom: 10, Left: 10}}, 0, docKey},
		{"padding, CSS order", "/_/padding:1:2:3/plain/" + docSourcePlain, resize.Transform{Fit: resize.FitInside, Padding: resize.Padding{Top: 1, Right: 2, Bottom: 3, Left: 2}}, 0, docKey},
		{"rotate 90: the size is the rotated result's", "/_/rot:90/rs:fit:300:200/plain/" + docSourcePlain, resize.Transform{Width: 300, Height: 200, Fit: resize.FitInside, Rotate: 90}, 0, docKey},
		{"rotate -90", "/_/rotate:-90/plain/" + docSourcePlain, resize.Transform{Fit: resize.FitInside, Rotate: 270}, 0, docKey},
		{"rotate keeps gravity and crop as written", "/_/rot:90/rs:fill:300:200/g:no/c:50:80:fp:0.2:0.3/plain/" + docSourcePlain,
			resize.Transform{Width: 300, Height: 200, Fit: resize.FitCover, Rotate: 90, Gravity: resize.GravityNorth,
				Crop: resize.Crop{Width: 50, Height: 80, Gravity: resize.GravityFocus, FocusX: 0.2, FocusY: 0.3}}, 0, docKey},
		{"strip metadata true", "/_/sm:1/plain/" + docSourcePlain, resize.Transform{Fit: resize.FitInside}, 0, docKey},
		{"keep the colour profile", "/_/scp:0/plain/" + docSourcePlain, resize.Transform{Fit: resize.FitInside, KeepProfile: true}, 0, docKey},
		{"watermark", "/_/wm:0.5:soea:10:20:0.25/plain/" + docSourcePlain,
			resize.Transform{Fit: resize.FitInside, Watermark: resize.Watermark{Opacity: 0.5, Position: resize.GravitySouthEast, OffsetX: 10, OffsetY: 20, Scale: 0.25}}, 0, docKey},
		{"format option", "/_/f:webp/plain/" + docSourcePlain, resize.Transform{Fit: resize.FitInside}, resize.WebP, docKey},
		{"ext option, jpg", "/_/ext:jpg/plain/" + docSourcePlain, resize.Transform{Fit: resize.FitInside}, resize.JPEG, docKey},
		{"extension wins over format", "/_/format:webp/plain/" + docSourcePlain + "@avif", resize.Transform{Fit: resize.FitInside}, resize.AVIF, docKey},
		{"cachebuster changes nothing", "/_/cb:v2/w:10/plain/" + docSourcePlain, resize.Transform{Width: 10, Fit: resize.FitInside}, 0, docKey},
		{"expires in the future", "/_/exp:1900000000/w:10/plain/" + docSourcePlain, resize.Transform{Width: 10, Fit: resize.FitInside}, 0, docKey},
		{"preset alone is the preset", "/_/pr:thumbnail/plain/" + docSourcePlain + "@webp", testPresets["thumbnail"], resize.WebP, docKey},
		{"preset then an option is custom", "/_/pr:small/q:70/plain/" + docSourcePlain, resize.Transform{Width: 100, Fit: resize.FitInside, Quality: 70}, 0, docKey},
		{"an option then a preset over it", "/_/q:70/pr:small/plain/" + docSourcePlain, resize.Transform{Width: 100, Fit: resize.FitInside, Quality: 50}, 0, docKey},
		{"two presets", "/_/pr:thumbnail:sharp/plain/" + docSourcePlain, resize.Transform{Fit: resize.FitInside, Sharpen: 1}, 0, docKey},
		{"s3 source", "/_/w:10/plain/s3://photos/global/a%20b.jpg", resize.Transform{Width: 10, Fit: resize.FitInside}, 0, "global/a b.jpg"},
		{"local source", "/_/w:10/plain/local:///dir/c.png@png", resize.Transform{Width: 10, Fit: resize.FitInside}, resize.PNG, "dir/c.png"},
		{"collapsed scheme slashes", "/_/w:10/plain/http:/example.com/images/curiosity.jpg", resize.Transform{Width: 10, Fit: resize.FitInside}, 0, docKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := p.Parse(tc.path, now)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.path, err)
			}
			if r.Transform != tc.want {
				t.Errorf("Transform\n got %+v\nwant %+v", r.Transform, tc.want)
			}
			if r.Format != tc.format || r.Key != tc.key {
				t.Errorf("format %v key %q, want %v %q", r.Format, r.Key, tc.format, tc.key)
			}
		})
	}
}

// TestRefused: every option edgegate cannot honour, every unknown option
// and every malformed part is refused with the status and a message that
// names it; nothing is ignored.
func TestRefused(t *testing.T) {
	p := newParser(t, nil)
	src := "/plain/" + docSourcePlain
	for _, tc := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/_/bogus:1" + src, 400, `unknown processing option "bogus"`},
		{"/_/fq:webp" + src, 400, "want fq:{format}:{quality}"},
		{"/_/fq:webp:101" + src, 400, `quality "101" for webp is not 0–100`},
		{"/_/fq:bmp:50" + src, 400, `unknown format "bmp"`},
		{"/_/fq:gif:50" + src, 400, "option fq for gif (a lossless format here) is not supported"},
		{"/_/trim:10" + src, 400, "option trim not supported"},
		{"/_/mw:100" + src, 400, "option mw not supported"},
		{"/_/pix:5" + src, 400, "option pix not supported"},
		{"/_/sm:0" + src, 400, "option sm:0"},
		{"/_/ar:false" + src, 400, "option ar:false"},
		{"/_/g:no:10:0" + src, 400, "gravity offsets"},
		{"/_/c:0.5:0.5" + src, 400, "relative sizes"},
		{"/_/wm:1:re" + src, 400, "position re"},
		{"/_/ex:1:fp:0.1:0.1" + src, 400, "gravity fp for extending"},
		{"/_/ex:1:sm" + src, 400, `unknown gravity "sm"`},
		{"/_/dpr:5" + src, 400, "option dpr: 5 outside 1–4"},
		{"/_/dpr:0.5" + src, 400, "option dpr: 0.5 outside 1–4"},
		{"/_/rt:stretch" + src, 400, `unknown resizing type "stretch"`},
		{"/_/q:101" + src, 400, "quality 101"},
		{"/_/bl:500" + src, 400, "sigma 500 outside 0.3–100"},
		{"/_/sh:20" + src, 400, "sigma 20 outside 0.3–10"},
		{"/_/rot:45" + src, 400, "not a multiple of 90"},
		{"/_/bg:zz0000" + src, 400, "not a hex colour"},
		{"/_/bg:1:2" + src, 400, "option bg: want"},
		{"/_/el:maybe" + src, 400, "not a boolean"},
		{"/_/w:-1" + src, 400, "negative"},
		{"/_/w:5000" + src, 400, "over the maximum 4096x4096"},
		{"/_/pr:nope" + src, 400, `unknown preset "nope"`},
		{"/_/f:tiff" + src, 400, "output format tiff not supported"},
		{"/_/f:xyz" + src, 400, `unknown format "xyz"`},
		{"/_/plain/" + docSourcePlain + "@bmp", 400, "output format bmp not supported"},
		{"/_/plain/" + docSourcePlain + "@png@jpg", 400, "several formats"},
		{"/_/" + docSourceB64 + ".png.jpg", 400, "several formats"},
		{"/_/!!!notbase64", 400, "neither"},
		{"/_/w:10", 400, "no source URL"},
		{"/_/c:100:100/-/w:10" + src, 400, "chained pipelines"},
		{"/_/w:10/enc/abcdef", 400, "encrypted source URLs"},
		{"/_/fill/300/400/sm/0/" + docSourceB64 + ".png", 400, "basic URL format"},
		{"/_", 400, "want /imgproxy/"},
		{"/_/", 400, "want /imgproxy/"},
		{"//w:10" + src, 400, "want /imgproxy/"},
		{"/_/exp:1700000000" + src, 404, "URL expired at 2023-11-14T22:13:20Z"},
		{"/_/plain/https://elsewhere.example/a.jpg", 404, "starts with none of imgproxy.source_prefixes"},
		{"/_/plain/http://example.com/a.jpg%3Fv=1", 400, "query or fragment"},
		{"/_/plain/http://example.com/%zz", 400, "malformed percent escape"},
	} {
		_, err := p.Parse(tc.path, now)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %v, want an *Error", tc.path, err)
			continue
		}
		if e.Status != tc.status || !strings.Contains(e.Msg, tc.msg) {
			t.Errorf("Parse(%q) = %d %q, want %d containing %q", tc.path, e.Status, e.Msg, tc.status, tc.msg)
		}
	}
}

func TestResolve(t *testing.T) {
	info := func(w, h int) resize.Info { return resize.Info{Width: w, Height: h} }
	for _, tc := range []struct {
		name string
		in   resize.Transform
		src  resize.Info
		want resize.Transform
	}{
		{"auto, both landscape: fill", resize.Transform{Width: 300, Height: 200, Fit: FitAuto}, info(640, 480),
			resize.Transform{Width: 300, Height: 200, Fit: resize.FitCover}},
		{"auto, portrait source: fit", resize.Transform{Width: 300, Height: 200, Fit: FitAuto}, info(480, 640),
			resize.Transform{Width: 300, Height: 200, Fit: resize.FitInside}},
		{"auto, square counts as landscape", resize.Transform{Width: 300, Height: 200, Fit: FitAuto}, info(500, 500),
			resize.Transform{Width: 300, Height: 200, Fit: resize.FitCover}},
		{"auto, EXIF-rotated source is portrait", resize.Transform{Width: 300, Height: 200, Fit: FitAuto}, resize.Info{Width: 640, Height: 480, Orientation: 6},
			resize.Transform{Width: 300, Height: 200, Fit: resize.FitInside}},
		{"fill-down, source large enough: fill", resize.Transform{Width: 300, Height: 200, Fit: FitFillDown}, info(640, 480),
			resize.Transform{Width: 300, Height: 200, Fit: resize.FitCover}},
		{"fill-down, smaller source keeps 1:1", resize.Transform{Width: 400, Height: 400, Fit: FitFillDown}, info(200, 100),
			resize.Transform{Width: 100, Height: 100, Fit: resize.FitCover}},
		{"fill-down, narrow source keeps 3:2", resize.Transform{Width: 300, Height: 200, Fit: FitFillDown}, info(150, 480),
			resize.Transform{Width: 150, Height: 100, Fit: resize.FitCover}},
		{"fill-down within the crop", resize.Transform{Width: 400, Height: 400, Fit: FitFillDown, Crop: resize.Crop{Width: 50}}, info(200, 100),
			resize.Transform{Width: 50, Height: 50, Fit: resize.FitCover, Crop: resize.Crop{Width: 50}}},
		{"force, height from the source", resize.Transform{Width: 300, Fit: resize.FitFill}, info(640, 480),
			resize.Transform{Width: 300, Height: 480, Fit: resize.FitFill}},
		{"force, width from the source", resize.Transform{Height: 100, Fit: resize.FitFill}, info(640, 480),
			resize.Transform{Width: 640, Height: 100, Fit: resize.FitFill}},
		{"force, width from the source rotated by 90", resize.Transform{Height: 100, Fit: resize.FitFill, Rotate: 90}, info(640, 480),
			resize.Transform{Width: 480, Height: 100, Fit: resize.FitFill, Rotate: 90}},
		{"auto, landscape source rotated by 270 is portrait", resize.Transform{Width: 300, Height: 200, Fit: FitAuto, Rotate: 270}, info(640, 480),
			resize.Transform{Width: 300, Height: 200, Fit: resize.FitInside, Rotate: 270}},
		{"nothing to resolve", resize.Transform{Width: 300, Height: 200, Fit: resize.FitCover}, info(1, 1),
			resize.Transform{Width: 300, Height: 200, Fit: resize.FitCover}},
	} {
		got := Resolve(tc.in, tc.src)
		if got != tc.want {
			t.Errorf("%s: Resolve = %+v, want %+v", tc.name, got, tc.want)
		}
		if NeedsResolve(got) {
			t.Errorf("%s: resolved transform still needs resolving", tc.name)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"enabled with prefixes and a key", func(c *Config) {
			c.Enabled, c.SourcePrefixes, c.Keys, c.Salts = true, []string{"s3://b/"}, []string{"736563726574"}, []string{"68656C6C6F"}
		}, ""},
		{"enabled without prefixes", func(c *Config) { c.Enabled = true }, "enabled needs source_prefixes"},
		{"unpaired", func(c *Config) { c.Keys = []string{"00"} }, "1 keys, 0 salts"},
		{"not hex", func(c *Config) { c.Keys, c.Salts = []string{"xyz"}, []string{"00"} }, "keys[0]: not hex"},
		{"empty salt", func(c *Config) { c.Keys, c.Salts = []string{"00"}, []string{""} }, "salts[0]: empty"},
		{"signature size", func(c *Config) { c.SignatureSize = 33 }, "signature_size must be 1–32"},
		{"insecure with keys", func(c *Config) {
			c.Keys, c.Salts, c.AllowInsecure = []string{"00"}, []string{"00"}, true
		}, "allow_insecure is for running without keys"},
		{"prefix without slash", func(c *Config) { c.SourcePrefixes = []string{"s3://b"} }, `must end in "/"`},
		{"prefix not a URL", func(c *Config) { c.SourcePrefixes = []string{"photos/"} }, "not a URL prefix"},
		{"prefix twice", func(c *Config) { c.SourcePrefixes = []string{"s3://b/", "s3://b/"} }, "listed twice"},
	} {
		c := DefaultConfig()
		tc.mod(&c)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestBaseURLAndLongestPrefix(t *testing.T) {
	p := newParser(t, func(c *Config) {
		c.BaseURL = "s3://photos/"
		c.SourcePrefixes = []string{"s3://photos/", "s3://photos/global/"}
	})
	r, err := p.Parse("/_/w:10/plain/global/a.jpg", now)
	if err != nil || r.Key != "a.jpg" || r.Source != "global/a.jpg" {
		t.Fatalf("got %+v, %v; want key a.jpg (the longest prefix)", r, err)
	}
	if r, err = p.Parse("/_/w:10/plain/s3://photos/x/b.jpg", now); err != nil || r.Key != "x/b.jpg" {
		t.Fatalf("a source that starts with base_url: %+v, %v", r, err)
	}
}

// TestFormatQuality: format_quality's pairs, later ones replacing earlier
// ones, jpg as jpeg; the transform itself is untouched (the quality is
// chosen with the format).
func TestFormatQuality(t *testing.T) {
	p := newParser(t, nil)
	r, err := p.Parse("/_/fq:jpg:70:webp:60/format_quality:avif:40:webp:55/w:100/plain/"+docSourcePlain, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := (resize.Quality{JPEG: 70, WebP: 55, AVIF: 40}); r.FormatQuality != want {
		t.Errorf("FormatQuality %+v, want %+v", r.FormatQuality, want)
	}
	if r.Transform.Quality != 0 {
		t.Errorf("Transform.Quality %d, want 0", r.Transform.Quality)
	}
}
