package resize

import (
	"fmt"
	"image"
	"image/color"
	"testing"

	"github.com/h2non/bimg"

	"github.com/edgegate/edgegate/internal/testimages"
)

// Colours of the fixtures, and how close a decoded pixel must be.
var (
	red, green, blue, yellow = testimages.Red, testimages.Green, testimages.Blue, testimages.Yellow
	white                    = color.RGBA{255, 255, 255, 255}
)

func near(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	d := func(x uint32, y uint8) int { v := int(x>>8) - int(y); return v * v }
	return d(r, want.R)+d(g, want.G)+d(b, want.B) < 3*30*30
}

// must returns a fixture or panics: the generators fail only when the
// environment is broken.
func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// render parses spec, processes src as f, and checks that Info matches the
// decoded output's size and format.
func render(t *testing.T, p *Processor, src []byte, spec string, f Format, wm []byte) image.Image {
	t.Helper()
	tr, err := p.ParseSpec(spec)
	if err != nil {
		t.Fatalf("ParseSpec(%q): %v", spec, err)
	}
	out, info, err := p.ProcessWatermarked(src, tr, f, wm)
	if err != nil {
		t.Fatalf("Process(%q): %v", spec, err)
	}
	m, err := bimg.Metadata(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Size.Width != info.Width || m.Size.Height != info.Height || info.Format != f {
		t.Fatalf("%q: Info %dx%d %v, decoded %dx%d %s", spec, info.Width, info.Height, info.Format, m.Size.Width, m.Size.Height, m.Type)
	}
	return decodeViaPNG(t, out)
}

func TestApplyPixels(t *testing.T) {
	p := newProcessor(t)
	vstripes := must(testimages.Stripes(800, 200, true, red, green, blue, yellow))
	hstripes := must(testimages.Stripes(200, 800, false, red, green, blue, yellow))
	halves := must(testimages.Stripes(400, 200, true, red, blue))
	solid := must(testimages.Stripes(200, 100, true, green))
	clear := must(testimages.TranslucentPNG(100, 100, red, 0))
	// JPEG sources take shrink-on-load (1/4 here) before the pipeline.
	vjpeg := must(bimg.NewImage(must(testimages.Stripes(1600, 400, true, red, green, blue, yellow))).Process(bimg.Options{Type: bimg.JPEG, Quality: 95}))
	exif := withEXIF(halvesJPEG(800, 400), 6, "") // displayed 400×800: red on top
	type px struct {
		x, y int
		c    color.RGBA
	}
	tests := []struct {
		name, spec string
		src        []byte
		f          Format
		w, h       int
		px         []px
	}{
		{"focus point near the left stripe", "100x100-cover,g:fp:0.1:0.5", vstripes, PNG, 100, 100, []px{{50, 50, red}}},
		{"focus point near the right stripe", "100x100-cover,g:fp:0.9:0.5", vstripes, PNG, 100, 100, []px{{50, 50, yellow}}},
		{"focus point in the second stripe", "100x100-cover,g:fp:0.375:0.5", vstripes, PNG, 100, 100, []px{{50, 50, green}}},
		{"gravity east", "100x100-cover,g:ea", vstripes, JPEG, 100, 100, []px{{50, 50, yellow}}},
		{"gravity west", "100x100-cover,g:we", vstripes, JPEG, 100, 100, []px{{50, 50, red}}},
		{"gravity north keeps the top", "100x100-cover,g:no", hstripes, JPEG, 100, 100, []px{{50, 10, red}, {50, 90, red}}},
		{"gravity south keeps the bottom", "100x100-cover,g:so", hstripes, JPEG, 100, 100, []px{{50, 10, yellow}}},
		{"gravity north-east corner", "100x50-cover,g:noea", hstripes, PNG, 100, 50, []px{{50, 5, red}}},
		{"crop before resizing, east", "100x100-inside,c:200:200:ea", vstripes, PNG, 100, 100, []px{{50, 50, yellow}}},
		{"crop at a focus point", "50x0,c:200:0:fp:0.4:0.5", vstripes, PNG, 50, 50, []px{{25, 25, green}}},
		{"rotate 90 swaps dimensions", "1000x1000-inside,rot:90", halves, PNG, 200, 400, []px{{100, 20, red}, {100, 380, blue}}},
		{"rotate 180", "400x200,rot:180", halves, PNG, 400, 200, []px{{20, 100, blue}}},
		{"background flattens alpha", "100x100,bg:00ff00", clear, PNG, 100, 100, []px{{50, 50, color.RGBA{0, 255, 0, 255}}}},
		{"JPEG flattens onto white", "100x100,g:no", clear, JPEG, 100, 100, []px{{50, 50, white}}},
		{"extend to the requested size", "400x300-inside,ex:1,bg:ff0000", solid, PNG, 400, 300,
			[]px{{5, 5, color.RGBA{255, 0, 0, 255}}, {200, 150, green}, {395, 295, color.RGBA{255, 0, 0, 255}}}},
		{"extend north", "400x300-inside,ex:1:no,bg:ff0000", solid, PNG, 400, 300,
			[]px{{200, 50, green}, {200, 250, color.RGBA{255, 0, 0, 255}}}},
		{"padding with the background", "200x100,pd:10:20,bg:0000ff", solid, JPEG, 240, 120,
			[]px{{5, 5, color.RGBA{0, 0, 255, 255}}, {120, 60, green}, {235, 60, color.RGBA{0, 0, 255, 255}}}},
		{"padding defaults to white", "200x100,pd:8", solid, JPEG, 216, 116, []px{{3, 3, white}}},
		{"JPEG shrunk on load, focus point right", "100x100-cover,g:fp:0.9:0.5", vjpeg, JPEG, 100, 100, []px{{50, 50, yellow}}},
		{"JPEG shrunk on load, gravity west", "100x100-cover,g:we", vjpeg, PNG, 100, 100, []px{{50, 50, red}}},
		{"JPEG shrunk on load, crop east", "100x100-inside,c:400:400:ea", vjpeg, PNG, 100, 100, []px{{50, 50, yellow}, {3, 3, yellow}, {96, 96, yellow}}},
		{"JPEG shrunk on load, crop at a focus point", "50x0,c:400:0:fp:0.375:0.5", vjpeg, PNG, 50, 50, []px{{25, 25, green}}},
		{"JPEG shrunk on load, inside and padding", "333x0,pd:1", vjpeg, PNG, 335, 85, []px{{40, 40, red}, {300, 40, yellow}}},
		{"JPEG shrunk on load, rotated", "0x101,rot:90", vjpeg, PNG, 25, 101, []px{{12, 5, red}, {12, 95, yellow}}},
		{"EXIF orientation, then rotate", "100x100-cover,rot:90", exif, PNG, 100, 100, []px{{90, 50, red}, {10, 50, blue}}},
		{"dpr doubles the size", "100x0,dpr:2", vstripes, WebP, 200, 50, nil},
		{"sharpen keeps the size", "100x100-cover,sh:1", vstripes, AVIF, 100, 100, nil},
		{"all at once", "150x150-cover,g:fp:0.2:0.5,c:600:200:we,q:50,bl:1,sh:0.5,bg:101010,ex:1,pd:1:2:3:4,rot:270,scp:1",
			vstripes, WebP, 156, 154, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := render(t, p, tc.src, tc.spec, tc.f, nil)
			if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
				t.Fatalf("%q: %dx%d, want %dx%d", tc.spec, b.Dx(), b.Dy(), tc.w, tc.h)
			}
			for _, q := range tc.px {
				if c := img.At(q.x, q.y); !near(c, q.c) {
					t.Errorf("%q: pixel %d,%d = %v, want about %v", tc.spec, q.x, q.y, c, q.c)
				}
			}
		})
	}
}

// TestApplyInfoExact: for every fit, format and a spread of options, Info
// is the size of the encoded image (render checks it).
func TestApplyInfoExact(t *testing.T) {
	p := newProcessor(t)
	src := must(testimages.Stripes(333, 177, true, red, green, blue))
	for _, size := range []string{"100x0", "0x50", "120x80-cover", "120x80-fill", "500x500-inside", "500x500-cover", "77x33-cover,el:1"} {
		for _, opt := range []string{"g:so", "c:100:0:ea", "bl:0.5", "ex:1:sowe", "pd:3:0", "rot:90", "scp:0", "dpr:1.5"} {
			for _, f := range []Format{JPEG, PNG, WebP} {
				spec := size + "," + opt
				t.Run(fmt.Sprintf("%s/%v", spec, f), func(t *testing.T) { render(t, p, src, spec, f, nil) })
			}
		}
	}
}

func TestApplyBlurLowersEdgeContrast(t *testing.T) {
	p := newProcessor(t)
	src := must(testimages.Stripes(200, 100, true, red, blue))
	contrast := func(spec string) int {
		img := render(t, p, src, spec, PNG, nil)
		r1, _, _, _ := img.At(97, 50).RGBA()
		r2, _, _, _ := img.At(102, 50).RGBA()
		return int(r1>>8) - int(r2>>8)
	}
	sharp, blurred := contrast("200x100,g:no"), contrast("200x100,bl:5")
	if sharp < 150 || blurred > sharp/2 {
		t.Fatalf("red difference across the edge: %d without blur, %d with bl:5; want blur to halve it", sharp, blurred)
	}
}

func TestApplyKeepProfile(t *testing.T) {
	p := newProcessor(t)
	src := must(testimages.ProfileJPEG(must(testimages.Stripes(200, 100, true, red, blue))))
	src = withEXIF(src, 1, "EdgegateCam")
	if m, err := bimg.Metadata(src); err != nil || !m.Profile {
		t.Fatalf("fixture has no ICC profile: %+v, %v", m, err)
	}
	for _, tc := range []struct {
		spec string
		f    Format
		keep bool
	}{{"100x50,scp:0", JPEG, true}, {"100x50,scp:0", WebP, true}, {"100x50,scp:0", PNG, true}, {"100x50,g:no", JPEG, false}, {"100x50", JPEG, false}} {
		t.Run(tc.spec+"/"+tc.f.String(), func(t *testing.T) {
			tr, err := p.ParseSpec(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := p.Process(src, tr, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			m, err := bimg.Metadata(out)
			if err != nil {
				t.Fatal(err)
			}
			if m.Profile != tc.keep {
				t.Errorf("icc-profile-data present = %v, want %v", m.Profile, tc.keep)
			}
			if m.EXIF.Make != "" {
				t.Errorf("EXIF Make %q kept; only the profile should be", m.EXIF.Make)
			}
		})
	}
}

func TestApplyWatermark(t *testing.T) {
	p := newProcessor(t)
	src := must(testimages.Stripes(200, 100, true, green))
	mark := must(testimages.TranslucentPNG(20, 20, red, 255))
	half := color.RGBA{(red.R + green.R) / 2, (red.G + green.G) / 2, (red.B + green.B) / 2, 255}
	tests := []struct {
		spec string
		w, h int
		px   map[[2]int]color.RGBA
	}{
		{"200x100,wm:1:soea", 200, 100, map[[2]int]color.RGBA{{195, 95}: red, {185, 85}: red, {5, 5}: green, {175, 95}: green}},
		{"200x100,wm:1:nowe:10:10", 200, 100, map[[2]int]color.RGBA{{15, 15}: red, {5, 5}: green}},
		{"200x100,wm:0.5:soea", 200, 100, map[[2]int]color.RGBA{{195, 95}: half}},
		{"200x100,wm:1:ce:0:0:0.25", 200, 100, map[[2]int]color.RGBA{{100, 50}: red, {140, 50}: green, {60, 50}: green, {100, 20}: green}},
		{"100x50-fill,pd:10,wm:1:soea", 120, 70, map[[2]int]color.RGBA{{115, 65}: red, {5, 5}: white}},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			img := render(t, p, src, tc.spec, PNG, mark)
			if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
				t.Fatalf("%dx%d, want %dx%d", b.Dx(), b.Dy(), tc.w, tc.h)
			}
			for xy, want := range tc.px {
				if c := img.At(xy[0], xy[1]); !near(c, want) {
					t.Errorf("pixel %v = %v, want about %v", xy, c, want)
				}
			}
		})
	}
	tr, _ := p.ParseSpec("200x100,wm:1")
	if _, _, err := p.Process(src, tr, PNG); StatusOf(err) != 422 {
		t.Errorf("watermark without its image: %v, want a 422", err)
	}
	if _, _, err := p.ProcessWatermarked(src, tr, PNG, []byte("not an image")); StatusOf(err) == 500 || err == nil {
		t.Errorf("unreadable watermark: %v, want a 4xx", err)
	}
}

func TestWithDPR(t *testing.T) {
	p := newProcessor(t) // max 4096×4096
	for _, tc := range []struct {
		in   Transform
		w, h int
	}{
		{Transform{Width: 300, Height: 200, DPR: 2}, 600, 400},
		{Transform{Width: 300, DPR: 1.5}, 450, 0},
		{Transform{Width: 3000, Height: 1000, DPR: 2}, 4096, 1365},
		{Transform{Width: 5000, DPR: 2}, 5000, 0},
		{Transform{Width: 300, Height: 200}, 300, 200},
	} {
		got := p.withDPR(tc.in)
		if got.Width != tc.w || got.Height != tc.h || got.DPR != 0 {
			t.Errorf("withDPR(%+v) = %dx%d dpr %g, want %dx%d", tc.in, got.Width, got.Height, got.DPR, tc.w, tc.h)
		}
	}
}

// FuzzApply: every spec ParseSpec accepts (the options pipeline or bimg's)
// renders a small PNG or JPEG (with a watermark when it asks for one)
// without an error, and Info is the encoded size.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		"100x100-cover,g:fp:1:1,c:1:1:fp:0:1", "1x1-fill,pd:30,ex:1:soea", "50x0,rot:270,c:0:7:so,el:1,dpr:4",
		"9x9-cover,g:sm,bl:100,sh:10,bg:000000", "0x3,scp:0,ex:1", "300x1-cover,g:noea,el:1", "1x300-cover,g:sowe", "10x10,wm:0.5:soea:100:100:1", "3x3-fill,wm:1:ce:0:0:0.01",
		"1x1", "1x1-fill", "2x1-fill", "640x1-cover", "1x0",
	} {
		f.Add(s)
	}
	p := newProcessor(f)
	src := must(testimages.Stripes(37, 23, true, red, green, blue))
	jpg := must(bimg.NewImage(must(testimages.Stripes(640, 190, true, red, green, blue))).Process(bimg.Options{Type: bimg.JPEG}))
	mark := must(testimages.TranslucentPNG(5, 3, yellow, 200))
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := p.ParseSpec(s)
		if err != nil {
			return
		}
		in := src
		if len(s)%2 == 0 {
			in = jpg // shrunk on load when the output is small enough
		}
		out, info, err := p.ProcessWatermarked(in, tr, PNG, mark)
		if err != nil {
			t.Fatalf("Process(%q): %v", s, err)
		}
		m, err := bimg.Metadata(out)
		if err != nil || m.Size.Width != info.Width || m.Size.Height != info.Height {
			t.Fatalf("%q: Info %dx%d, decoded %+v, %v", s, info.Width, info.Height, m.Size, err)
		}
	})
}
