package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const imagePolicyRules = `default_region: global
regions:
  egypt-cairo: {country: EG, city: Cairo, prefix: egypt/cairo/, fallback: egypt, image: {max_dpr: 1.5}}
  egypt:       {country: EG, prefix: egypt/, fallback: global,
                image: {quality: 40, formats: [webp, JPG], save_data: ignore}}
  europe:      {continent: EU, prefix: europe/, fallback: global, formats: [webp, avif, jpeg]}
  asia:        {continent: AS, prefix: asia/, fallback: global, image: {quality: {avif: 35}}}
  global:      {prefix: global/}
routes:
  - {name: photos, match: "photos/**", bucket: edge-demo, delivery: presign, ttl: 1h,
     image: {client_hints: on, quality: {jpeg: 80, webp: 75}, max_dpr: 3}}
  - {name: assets, match: "**", bucket: edge-demo, delivery: presign, ttl: 15m}
`

func TestImagePolicyMergesRegionChainThenRoute(t *testing.T) {
	tbl, err := Parse("image.yaml", []byte(imagePolicyRules))
	if err != nil {
		t.Fatal(err)
	}
	photos, assets := tbl.Route("photos/a.jpg"), tbl.Route("x.jpg")
	cairo := photos.ImagePolicy(tbl.Region("egypt-cairo"))
	if cairo == nil {
		t.Fatal("egypt-cairo on photos: no policy")
	}
	// Cairo's own max_dpr, egypt's quality/formats/save_data (its fallback),
	// the route's client_hints.
	if cairo.MaxDPR != 1.5 || cairo.From.MaxDPR != "region egypt-cairo" {
		t.Errorf("max_dpr = %v from %q", cairo.MaxDPR, cairo.From.MaxDPR)
	}
	if cairo.Quality != (ImageQuality{JPEG: 40, WebP: 40, AVIF: 40}) || cairo.From.JPEGQuality != "region egypt" {
		t.Errorf("quality = %+v from %q", cairo.Quality, cairo.From.JPEGQuality)
	}
	if strings.Join(cairo.Formats, ",") != "webp,jpeg" || cairo.SaveData != SaveDataIgnore {
		t.Errorf("formats = %q, save_data = %v", cairo.Formats, cairo.SaveData)
	}
	if cairo.ClientHints != ToggleOn || cairo.From.ClientHints != "route photos" {
		t.Errorf("client_hints = %v from %q", cairo.ClientHints, cairo.From.ClientHints)
	}
	// Asia sets only AVIF's quality: the route gives JPEG's and WebP's.
	asia := photos.ImagePolicy(tbl.Region("asia"))
	if asia.Quality != (ImageQuality{JPEG: 80, WebP: 75, AVIF: 35}) || asia.From.AVIFQuality != "region asia" ||
		asia.From.WebPQuality != "route photos" || asia.MaxDPR != 3 {
		t.Errorf("asia on photos = %+v", asia)
	}
	// The older top-level formats list is the region's preferred order.
	if eu := assets.ImagePolicy(tbl.Region("europe")); eu == nil || strings.Join(eu.Formats, ",") != "webp,avif,jpeg" ||
		eu.From.Formats != "region europe" {
		t.Errorf("europe on assets = %+v", eu)
	}
	// Nothing set anywhere: nil.
	if g := assets.ImagePolicy(tbl.Region("global")); g != nil {
		t.Errorf("global on assets = %+v, want nil", g)
	}
	if p := assets.ImagePolicy(nil); p != nil {
		t.Errorf("nil region: %+v", p)
	}
	// A region of an older table is looked up by name.
	tbl2, err := Parse("image.yaml", []byte(imagePolicyRules))
	if err != nil {
		t.Fatal(err)
	}
	if p := tbl2.Route("photos/a").ImagePolicy(tbl.Region("egypt")); p == nil || p.Quality.JPEG != 40 {
		t.Errorf("egypt of another table: %+v", p)
	}
}

func TestImagePolicyLookupAllocatesNothing(t *testing.T) {
	tbl, err := Parse("image.yaml", []byte(imagePolicyRules))
	if err != nil {
		t.Fatal(err)
	}
	rt, reg := tbl.Route("photos/a.jpg"), tbl.Region("egypt")
	if n := testing.AllocsPerRun(100, func() { _ = rt.ImagePolicy(reg) }); n != 0 {
		t.Errorf("ImagePolicy allocates %v times", n)
	}
}

func TestImagePolicyErrors(t *testing.T) {
	base := func(region, route string) string {
		return "default_region: global\nregions:\n  global: {prefix: g/" + region + "}\nroutes:\n" +
			"  - {name: a, match: \"**\", bucket: edge-demo, delivery: presign, ttl: 1h" + route + "}\n"
	}
	for _, c := range []struct {
		name, file string
		want       []string // "line:col: message"
	}{
		{"quality out of range", base(", image: {quality: 0}", ""),
			[]string{`3:41: region "global": image: quality: "0" is not a quality from 1 to 100`}},
		{"quality not a number", base("", ", image: {quality: high}"),
			[]string{`5:92: route "a": image: quality: "high" is not a quality from 1 to 100`}},
		{"quality for png", base(", image: {quality: {png: 5, webp: 101}}", ""),
			[]string{`3:42: region "global": image: quality: PNG is lossless, a quality does not apply (images.quality.png sets its compression level)`,
				`3:56: region "global": image: quality: webp: "101" is not a quality from 1 to 100`}},
		{"quality format misspelt", base(", image: {quality: {wepb: 50}}", ""),
			[]string{`3:42: region "global": image: quality: unknown format "wepb" (did you mean "webp"?)`}},
		{"jpeg and jpg", base(", image: {quality: {jpeg: 50, jpg: 60}}", ""),
			[]string{`3:52: region "global": image: quality: jpeg and jpg are the same format; give one`}},
		{"unknown format", base(", image: {formats: [webp, gif]}", ""),
			[]string{`3:41: region "global": image: formats: unknown image format "gif" (one of jpeg, png, webp, avif)`}},
		{"format twice", base(", image: {formats: [jpeg, JPG]}", ""),
			[]string{`3:41: region "global": image: formats: "jpeg" is listed twice`}},
		{"formats given twice", base(", formats: [webp], image: {formats: [jpeg]}", ""),
			[]string{`3:24: region "global": formats given twice, here and in image: formats; keep image: formats`}},
		{"max_dpr", base(", image: {max_dpr: 5}", ""),
			[]string{`3:41: region "global": image: max_dpr: "5" is not a device pixel ratio from 1 to 4 (e.g. 2 or 1.5)`}},
		{"save_data", base(", image: {save_data: heavier}", ""),
			[]string{`3:43: region "global": image: save_data: unknown value "heavier" (lighter: DPR 1 and lower quality; or ignore)`}},
		{"client_hints", base("", ", image: {client_hints: maybe}"),
			[]string{`5:97: route "a": image: client_hints: unknown value "maybe" (on or off)`}},
		{"unknown field with hint", base(", image: {max_dppr: 2}", ""),
			[]string{`3:32: unknown field "max_dppr" in region "global": image (did you mean "max_dpr"?)`}},
		{"not a mapping", base(", image: 40", ""),
			[]string{`3:31: region "global": image must be a mapping of quality, formats, max_dpr, save_data, client_hints, not a string`}},
		{"image field misspelt on route", base("", ", imgae: {quality: 40}"),
			[]string{`5:75: unknown field "imgae" in route "a" (did you mean "image"?)`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(c.file))
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse = %v, want *Error", err)
			}
			var got []string
			for _, p := range perr.Problems {
				got = append(got, strings.TrimPrefix(p.String(), "r.yaml:"))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestImagePolicyHotReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	write := func(q string) {
		t.Helper()
		data := "default_region: global\nregions:\n  global: {prefix: g/, image: {quality: " + q + "}}\n" +
			"routes:\n  - {name: a, match: \"**\", bucket: edge-demo, delivery: presign, ttl: 1h}\n"
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("40")
	s, err := NewStore(path, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	quality := func() int {
		tbl := s.Table()
		return tbl.Route("k").ImagePolicy(tbl.DefaultRegion()).Quality.JPEG
	}
	if q := quality(); q != 40 {
		t.Fatalf("quality = %d, want 40", q)
	}
	write("70")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if q := quality(); q != 70 {
		t.Errorf("after reload quality = %d, want 70", q)
	}
	write("700") // invalid: the old table keeps serving
	if err := s.Reload(); err == nil {
		t.Fatal("reload of quality 700 succeeded")
	}
	if q := quality(); q != 70 {
		t.Errorf("after a failed reload quality = %d, want 70", q)
	}
}

func TestImagePolicyVaries(t *testing.T) {
	tbl, err := Parse("image.yaml", []byte(imagePolicyRules))
	if err != nil {
		t.Fatal(err)
	}
	if !tbl.Route("x.jpg").ImagePolicyVaries() || !tbl.Route("photos/a.jpg").ImagePolicyVaries() {
		t.Error("regions with different policies: ImagePolicyVaries false")
	}
	same, err := Parse("same.yaml", []byte(`default_region: global
regions:
  egypt:  {country: EG, prefix: egypt/, fallback: global}
  global: {prefix: global/, image: {quality: 50}}
routes:
  - {name: a, match: "a/**", bucket: edge-demo, delivery: presign, ttl: 1h}
  - {name: b, match: "**", bucket: edge-demo, delivery: presign, ttl: 1h, image: {max_dpr: 2}}
`))
	if err != nil {
		t.Fatal(err)
	}
	// egypt falls back to global: both get quality 50 (from different
	// places); the route's max_dpr applies to both.
	if same.Route("a/x").ImagePolicyVaries() || same.Route("b").ImagePolicyVaries() {
		t.Error("the same policy everywhere: ImagePolicyVaries true")
	}
}

// FuzzImagePolicy: no image: value makes Parse panic or accept something
// out of range; every problem has a position.
func FuzzImagePolicy(f *testing.F) {
	for _, s := range []string{"{quality: 40}", "{quality: {jpeg: 80, webp: 75}}", "{formats: [webp, jpeg], max_dpr: 1.5}",
		"{save_data: ignore, client_hints: on}", "{quality: {png: 3}}", "40", "{max_dpr: NaN}", "{max_dpr: .Inf}",
		"{quality: 1e2}", "{formats: []}", "{quality: {jpg: 1, jpeg: 2}}", "&a {quality: 5}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, image string) {
		file := "default_region: g\nregions:\n  g: {prefix: g/, image: " + image + "}\nroutes:\n" +
			"  - {name: a, match: \"**\", bucket: edge-demo, delivery: presign, ttl: 1h, image: " + image + "}\n"
		tbl, err := Parse("fuzz.yaml", []byte(file))
		if err != nil {
			perr, ok := err.(*Error)
			if !ok || len(perr.Problems) == 0 {
				t.Fatalf("error %T %v", err, err)
			}
			for _, p := range perr.Problems {
				if p.Line < 1 || p.Col < 1 {
					t.Fatalf("bad position %+v", p)
				}
			}
			return
		}
		p := tbl.Route("k").ImagePolicy(tbl.DefaultRegion())
		if p == nil {
			return
		}
		for _, q := range []int{p.Quality.JPEG, p.Quality.WebP, p.Quality.AVIF} {
			if q < 0 || q > 100 {
				t.Fatalf("quality %d accepted", q)
			}
		}
		if p.MaxDPR != 0 && !(p.MaxDPR >= 1 && p.MaxDPR <= MaxImageDPR) {
			t.Fatalf("max_dpr %v accepted", p.MaxDPR)
		}
		for _, f := range p.Formats {
			if f != "jpeg" && f != "png" && f != "webp" && f != "avif" {
				t.Fatalf("format %q accepted", f)
			}
		}
	})
}
