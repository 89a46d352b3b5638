package gateway

import (
	"net/textproto"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/resize"
	"github.com/edgegate/edgegate/rules"
)

func TestReadClientHints(t *testing.T) {
	for _, c := range []struct {
		name    string
		headers map[string]string
		want    clientHints
	}{
		{"none", nil, clientHints{}},
		{"dpr 2", map[string]string{"Sec-CH-DPR": "2"}, clientHints{dpr: 2}},
		{"dpr rounded to 0.5", map[string]string{"Sec-CH-DPR": "2.625"}, clientHints{dpr: 2.5}},
		{"dpr 1.75 rounds up", map[string]string{"Sec-CH-DPR": " 1.75 "}, clientHints{dpr: 2}},
		{"dpr below 1 is 1", map[string]string{"Sec-CH-DPR": "0.5"}, clientHints{dpr: 1}},
		{"legacy DPR", map[string]string{"DPR": "3"}, clientHints{dpr: 3}},
		{"Sec-CH-DPR wins", map[string]string{"Sec-CH-DPR": "2", "DPR": "3"}, clientHints{dpr: 2}},
		{"bad Sec-CH-DPR: legacy used", map[string]string{"Sec-CH-DPR": "two", "DPR": "3"}, clientHints{dpr: 3}},
		{"exponent ignored", map[string]string{"Sec-CH-DPR": "1e1"}, clientHints{}},
		{"hex float ignored", map[string]string{"Sec-CH-DPR": "0x1p1"}, clientHints{}},
		{"NaN ignored", map[string]string{"Sec-CH-DPR": "NaN"}, clientHints{}},
		{"Inf ignored", map[string]string{"Sec-CH-DPR": "Inf"}, clientHints{}},
		{"negative ignored", map[string]string{"Sec-CH-DPR": "-2"}, clientHints{}},
		{"zero ignored", map[string]string{"Sec-CH-DPR": "0"}, clientHints{}},
		{"two dots ignored", map[string]string{"Sec-CH-DPR": "1.5.1"}, clientHints{}},
		{"huge ignored", map[string]string{"Sec-CH-DPR": "1000"}, clientHints{}},
		{"width rounded up to 100", map[string]string{"Sec-CH-Width": "250"}, clientHints{width: 300}},
		{"width on a step stays", map[string]string{"Sec-CH-Width": "400"}, clientHints{width: 400}},
		{"legacy Width", map[string]string{"Width": "801"}, clientHints{width: 900}},
		{"width 0 ignored", map[string]string{"Sec-CH-Width": "0"}, clientHints{}},
		{"width not a number", map[string]string{"Sec-CH-Width": "12px"}, clientHints{}},
		{"width too long", map[string]string{"Sec-CH-Width": "1234567"}, clientHints{}},
		{"save-data on", map[string]string{"Save-Data": "on"}, clientHints{saveData: true}},
		{"save-data ON", map[string]string{"Save-Data": " ON "}, clientHints{saveData: true}},
		{"save-data off", map[string]string{"Save-Data": "off"}, clientHints{}},
		{"save-data 1", map[string]string{"Save-Data": "1"}, clientHints{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := headerMap{}
			for k, v := range c.headers {
				h[textproto.CanonicalMIMEHeaderKey(k)] = []byte(v) // as Explain stores them
			}
			if got := readClientHints(h); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// testPlan is the plan planImage would make with the default images
// config (max 4096×4096, JPEG 82, WebP 80, AVIF 60).
func testPlan(t *testing.T, clientHints bool, pol *rules.ImagePolicy, headers ...string) imagePlan {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Images.ClientHints = clientHints
	s := &Server{cfg: cfg}
	h := headerMap{}
	for i := 0; i+1 < len(headers); i += 2 {
		h[textproto.CanonicalMIMEHeaderKey(headers[i])] = []byte(headers[i+1])
	}
	return s.planPolicy(pol, h)
}

func TestImagePlanTransform(t *testing.T) {
	medium := resize.Transform{Preset: "medium", Width: 640, Fit: resize.FitInside, Folder: "medium/"}
	tall := resize.Transform{Preset: "tall", Height: 300, Fit: resize.FitInside, Folder: "tall/"}
	huge := resize.Transform{Width: 3000, Height: 1000, Fit: resize.FitCover}
	for _, c := range []struct {
		name string
		plan imagePlan
		tr   resize.Transform
		f    resize.Format
		want resize.Transform
	}{
		{"zero plan changes nothing", imagePlan{}, medium, resize.JPEG, medium},
		{"hints off: DPR ignored", testPlan(t, false, nil, "Sec-CH-DPR", "2"), medium, resize.JPEG, medium},
		{"DPR 2 on a preset: no longer the preset", testPlan(t, true, nil, "Sec-CH-DPR", "2"), medium, resize.JPEG,
			resize.Transform{Width: 640, Fit: resize.FitInside, DPR: 2}},
		{"DPR capped by max_dpr", testPlan(t, true, &rules.ImagePolicy{MaxDPR: 1.5}, "Sec-CH-DPR", "3"), medium, resize.JPEG,
			resize.Transform{Width: 640, Fit: resize.FitInside, DPR: 1.5}},
		{"DPR capped by max_width", testPlan(t, true, nil, "Sec-CH-DPR", "2"), huge, resize.JPEG,
			resize.Transform{Width: 3000, Height: 1000, Fit: resize.FitCover, DPR: 4096.0 / 3000}},
		{"max_dpr 1: nothing", testPlan(t, true, &rules.ImagePolicy{MaxDPR: 1}, "Sec-CH-DPR", "3"), medium, resize.JPEG, medium},
		{"DPR 1 hint: nothing", testPlan(t, true, nil, "Sec-CH-DPR", "1"), medium, resize.JPEG, medium},
		{"the URL's DPR wins over the hint", testPlan(t, true, nil, "Sec-CH-DPR", "3"),
			resize.Transform{Width: 100, Height: 100, Fit: resize.FitCover, DPR: 2}, resize.JPEG,
			resize.Transform{Width: 100, Height: 100, Fit: resize.FitCover, DPR: 2}},
		{"max_dpr caps the URL's DPR too", testPlan(t, false, &rules.ImagePolicy{MaxDPR: 1.5}),
			resize.Transform{Width: 100, Height: 100, Fit: resize.FitCover, DPR: 2}, resize.JPEG,
			resize.Transform{Width: 100, Height: 100, Fit: resize.FitCover, DPR: 1.5}},
		{"width hint fills an open width", testPlan(t, true, nil, "Sec-CH-Width", "250"), tall, resize.JPEG,
			resize.Transform{Width: 300, Height: 300, Fit: resize.FitInside}},
		{"width hint in device pixels", testPlan(t, true, nil, "Sec-CH-Width", "800", "Sec-CH-DPR", "2"), tall, resize.JPEG,
			resize.Transform{Width: 400, Height: 300, Fit: resize.FitInside, DPR: 2}},
		{"width hint bounded by max_width", testPlan(t, true, nil, "Width", "9000"), tall, resize.JPEG,
			resize.Transform{Width: 4096, Height: 300, Fit: resize.FitInside}},
		{"width hint leaves a fixed width", testPlan(t, true, nil, "Sec-CH-Width", "300"), medium, resize.JPEG, medium},
		{"policy quality for the format", testPlan(t, false, &rules.ImagePolicy{Quality: rules.ImageQuality{WebP: 40}}), medium, resize.WebP,
			resize.Transform{Width: 640, Fit: resize.FitInside, Quality: 40}},
		{"policy quality of another format", testPlan(t, false, &rules.ImagePolicy{Quality: rules.ImageQuality{WebP: 40}}), medium, resize.JPEG, medium},
		{"quality does not apply to PNG", testPlan(t, false, &rules.ImagePolicy{Quality: rules.ImageQuality{JPEG: 40, WebP: 40, AVIF: 40}}), medium, resize.PNG, medium},
		{"the preset's quality wins", testPlan(t, false, &rules.ImagePolicy{Quality: rules.ImageQuality{JPEG: 40}}),
			resize.Transform{Preset: "p", Width: 10, Fit: resize.FitInside, Quality: 90, Folder: "p/"}, resize.JPEG,
			resize.Transform{Preset: "p", Width: 10, Fit: resize.FitInside, Quality: 90, Folder: "p/"}},
		{"save-data: DPR 1, 2/3 of the default quality", testPlan(t, true, nil, "Save-Data", "on", "Sec-CH-DPR", "2"), medium, resize.JPEG,
			resize.Transform{Width: 640, Fit: resize.FitInside, Quality: 54}},
		{"save-data: 2/3 of the policy's quality", testPlan(t, true, &rules.ImagePolicy{Quality: rules.ImageQuality{AVIF: 45}}, "Save-Data", "on"), medium, resize.AVIF,
			resize.Transform{Width: 640, Fit: resize.FitInside, Quality: 30}},
		{"save-data: the URL's DPR too", testPlan(t, true, nil, "Save-Data", "on"),
			resize.Transform{Width: 100, Height: 100, Fit: resize.FitCover, DPR: 2}, resize.PNG,
			resize.Transform{Width: 100, Height: 100, Fit: resize.FitCover}},
		{"save-data ignored by policy", testPlan(t, true, &rules.ImagePolicy{SaveData: rules.SaveDataIgnore}, "Save-Data", "on"), medium, resize.JPEG, medium},
		{"save-data without hints on", testPlan(t, false, nil, "Save-Data", "on"), medium, resize.JPEG, medium},
		{"client_hints: off in the policy beats the config", testPlan(t, true, &rules.ImagePolicy{ClientHints: rules.ToggleOff}, "Sec-CH-DPR", "2"), medium, resize.JPEG, medium},
		{"client_hints: on in the policy", testPlan(t, false, &rules.ImagePolicy{ClientHints: rules.ToggleOn}, "Sec-CH-DPR", "2"), medium, resize.JPEG,
			resize.Transform{Width: 640, Fit: resize.FitInside, DPR: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.plan.transform(c.tr, c.f); got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestImagePlanHeaders(t *testing.T) {
	medium := resize.Transform{Preset: "medium", Width: 640, Fit: resize.FitInside}
	tall := resize.Transform{Preset: "tall", Height: 300, Fit: resize.FitInside}
	for _, c := range []struct {
		name           string
		plan           imagePlan
		tr             resize.Transform
		f1, f2         resize.Format
		explicit       string
		vary, acceptCH string // "": header absent; Vary before the plan: Accept without explicit
	}{
		{"hints off", testPlan(t, false, nil), medium, resize.JPEG, resize.JPEG, "", "Accept", ""},
		{"fixed width", testPlan(t, true, nil), medium, resize.JPEG, resize.JPEG, "",
			"Accept, Sec-CH-DPR, DPR, Save-Data", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
		{"open width", testPlan(t, true, nil), tall, resize.WebP, resize.WebP, "",
			"Accept, Sec-CH-DPR, DPR, Sec-CH-Width, Width, Save-Data", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
		{"explicit format: no Accept", testPlan(t, true, nil), medium, resize.JPEG, resize.JPEG, "jpeg",
			"Sec-CH-DPR, DPR, Save-Data", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
		{"max_dpr 1: no DPR", testPlan(t, true, &rules.ImagePolicy{MaxDPR: 1}), medium, resize.JPEG, resize.JPEG, "",
			"Accept, Save-Data", "Sec-CH-Width, Save-Data"},
		{"save_data ignore", testPlan(t, true, &rules.ImagePolicy{SaveData: rules.SaveDataIgnore}), medium, resize.JPEG, resize.JPEG, "",
			"Accept, Sec-CH-DPR, DPR", "Sec-CH-DPR, Sec-CH-Width"},
		{"at max_width: DPR cannot change it, PNG: Save-Data cannot either", testPlan(t, true, nil),
			resize.Transform{Width: 4096, Fit: resize.FitInside}, resize.PNG, resize.PNG, "",
			"Accept", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
		{"region from CDN geo headers", func() imagePlan { p := testPlan(t, false, nil); p.varyGeo = true; return p }(), medium, resize.JPEG, resize.JPEG, "",
			"Accept, CloudFront-Viewer-Country, CloudFront-Viewer-Country-Region, CloudFront-Viewer-City, CF-IPCountry", ""},
		{"region from CDN geo headers, hints on", func() imagePlan { p := testPlan(t, true, nil); p.varyGeo = true; return p }(), medium, resize.JPEG, resize.JPEG, "",
			"Accept, Sec-CH-DPR, DPR, Save-Data, CloudFront-Viewer-Country, CloudFront-Viewer-Country-Region, CloudFront-Viewer-City, CF-IPCountry",
			"Sec-CH-DPR, Sec-CH-Width, Save-Data"},
		{"the URL's DPR: Save-Data can lower it", testPlan(t, true, nil),
			resize.Transform{Width: 100, Height: 100, Fit: resize.FitCover, DPR: 2}, resize.PNG, resize.PNG, "png",
			"Save-Data", "Sec-CH-DPR, Sec-CH-Width, Save-Data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := c.plan
			p.headers(c.tr, c.f1, c.f2)
			var h fasthttp.ResponseHeader
			if c.explicit == "" {
				h.Set("Vary", "Accept") // as imageHeaders does first
			}
			p.writeHeaders(&h, c.explicit)
			if got := string(h.Peek("Vary")); got != c.vary {
				t.Errorf("Vary %q, want %q", got, c.vary)
			}
			if got := string(h.Peek("Accept-CH")); got != c.acceptCH {
				t.Errorf("Accept-CH %q, want %q", got, c.acceptCH)
			}
			if h.Peek("Critical-CH") != nil {
				t.Error("Critical-CH sent")
			}
		})
	}
}

func TestImagePlanNegotiate(t *testing.T) {
	order := func(fs ...string) *rules.ImagePolicy { return &rules.ImagePolicy{Formats: fs} }
	for _, c := range []struct {
		name     string
		pol      *rules.ImagePolicy
		accept   string
		explicit string
		src      resize.Format
		alpha    bool
		want     resize.Format
	}{
		{"no policy: avif first", nil, "image/avif,image/webp", "", resize.JPEG, false, resize.AVIF},
		{"webp before avif", order("webp", "avif", "jpeg"), "image/avif,image/webp", "", resize.JPEG, false, resize.WebP},
		{"avif not listed: never by negotiation", order("webp", "jpeg"), "image/avif", "", resize.JPEG, false, resize.JPEG},
		{"avif not listed, PNG source", order("webp"), "image/avif", "", resize.PNG, true, resize.PNG},
		{"jpeg first", order("jpeg", "webp"), "image/avif,image/webp", "", resize.JPEG, false, resize.JPEG},
		{"jpeg skipped for alpha", order("jpeg", "webp"), "image/webp", "", resize.PNG, true, resize.WebP},
		{"jpeg for a PNG without alpha", order("jpeg"), "", "", resize.PNG, false, resize.JPEG},
		{"nothing fits: the source's format", order("avif"), "image/webp", "", resize.WebP, true, resize.PNG},
		{"explicit wins", order("webp"), "image/webp", "avif", resize.JPEG, false, resize.AVIF},
	} {
		t.Run(c.name, func(t *testing.T) {
			ir := imageRequest{accept: []byte(c.accept), explicit: c.explicit, plan: testPlan(t, false, c.pol)}
			got, err := ir.negotiate(c.src, c.alpha)
			if err != nil || got != c.want {
				t.Errorf("got %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

// TestApplyPlanKeys: the variant key's spec names the transform rendered,
// and a plan that changes nothing leaves the key as parsed.
func TestApplyPlanKeys(t *testing.T) {
	medium := resize.Transform{Preset: "medium", Width: 640, Fit: resize.FitInside, Folder: "medium/"}
	ir := imageRequest{spec: "medium", tr: medium, plan: testPlan(t, false, nil)}
	vk := variantKey{spec: "medium", format: resize.JPEG, formatKnown: true}
	ir.applyPlan(&vk, resize.JPEG, resize.JPEG)
	if vk.spec != "medium" || ir.tr != medium {
		t.Errorf("no policy: spec %q, tr %+v", vk.spec, ir.tr)
	}
	ir = imageRequest{spec: "medium", tr: medium, plan: testPlan(t, false, &rules.ImagePolicy{Quality: rules.ImageQuality{JPEG: 40}})}
	vk = variantKey{spec: "medium", format: resize.JPEG, formatKnown: true}
	ir.applyPlan(&vk, resize.JPEG, resize.JPEG)
	if vk.spec != ir.tr.Spec() || ir.tr.Quality != 40 || ir.tr.Preset != "" || ir.tr.Folder != "" {
		t.Errorf("quality 40: spec %q, tr %+v", vk.spec, ir.tr)
	}
	if got := storedKey(ir.tr, "global/a.jpg", resize.JPEG); got != "custom/"+ir.tr.Spec()+"/global/a.jpg.jpg" {
		t.Errorf("stored at %q", got)
	}
	// Format unknown until the probe (JPEG or PNG): the key names both
	// candidates' transforms, and the transform waits for the format.
	ir = imageRequest{spec: "medium", tr: medium, plan: testPlan(t, false, &rules.ImagePolicy{Quality: rules.ImageQuality{JPEG: 40}})}
	vk = variantKey{spec: "medium"}
	ir.applyPlan(&vk, resize.JPEG, resize.PNG)
	jpeg := ir.plan.transform(medium, resize.JPEG)
	if vk.spec != jpeg.Spec()+"|"+medium.Spec() || ir.tr != medium {
		t.Errorf("unknown format: spec %q, tr %+v", vk.spec, ir.tr)
	}
}

// FuzzReadClientHints: any hint values give no hint or one within the
// rounded ranges the plan relies on; never a panic.
func FuzzReadClientHints(f *testing.F) {
	for _, s := range []string{"2", "2.625", "0.5", "1e1", "NaN", "-1", "1.5.1", "250", "0", "on", " ON ", "99999999"} {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, dpr, width, saveData string) {
		h := headerMap{"Sec-Ch-Dpr": []byte(dpr), "Dpr": []byte(width), "Sec-Ch-Width": []byte(width),
			"Width": []byte(dpr), "Save-Data": []byte(saveData)}
		c := readClientHints(h)
		if c.dpr != 0 && (c.dpr < 1 || c.dpr > 100 || c.dpr != float64(int(c.dpr/dprStep))*dprStep) {
			t.Fatalf("dpr %v from %q/%q", c.dpr, dpr, width)
		}
		if c.width < 0 || c.width%widthStep != 0 || c.width > 1_000_000 {
			t.Fatalf("width %d from %q/%q", c.width, width, dpr)
		}
		p := testPlan(t, true, nil, "Sec-CH-DPR", dpr, "Sec-CH-Width", width, "Save-Data", saveData)
		tr := p.transform(resize.Transform{Height: 300, Fit: resize.FitInside}, resize.WebP)
		if tr.Width > 4096 || tr.Width < 0 || tr.DPR > 4 || (tr.DPR != 0 && tr.DPR < 1) || float64(tr.Height)*max(tr.DPR, 1) > 4096.5 {
			t.Fatalf("transform %+v from %q/%q/%q", tr, dpr, width, saveData)
		}
	})
}
