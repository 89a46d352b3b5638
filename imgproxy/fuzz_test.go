package imgproxy

import (
	"errors"
	"testing"

	"github.com/edgegate/edgegate/resize"
)

// FuzzParse: any path either parses into a transform within the limits
// and a non-empty key, or is refused with an *Error of status 400, 403 or
// 404; never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/sig/pr:sharp/rs:fill:300:400:0/g:sm/plain/" + docSourcePlain + "@png",
		"/_/rs:fill:300:400:0/g:sm/" + docSourceB64 + ".png",
		"/_/c:10:10:fp:0.5:0.5/wm:0.5:soea:1:2:0.5/pd:1:2/bg:fff/plain/s3://photos/a.jpg",
		"/_/rs:auto:300:200/rot:270/plain/local:///x.png@webp",
		"/_/rs:force:0:10/ex:1:no/plain/http:/example.com/a",
		"/" + docSig + docPath,
		"/_/fn:a%0D%0Ab/att:1/w:10/plain/local:///%22x%22.png",
		"/_/fn:cMOpc3Vtw6k:1/plain/local:///a",
	} {
		f.Add(s)
	}
	p := newParser(f, nil)
	q := signed(f, nil)
	f.Fuzz(func(t *testing.T, path string) {
		for _, parser := range []*Parser{p, q} {
			r, err := parser.Parse(path, now)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || (e.Status != 400 && e.Status != 403 && e.Status != 404) || e.Msg == "" {
					t.Fatalf("Parse(%q): %v", path, err)
				}
				continue
			}
			for _, c := range []byte(ContentDisposition(r, ".jpg")) {
				if c < 0x20 || c > 0x7e {
					t.Fatalf("Parse(%q): Content-Disposition has byte %#x", path, c)
				}
			}
			tr := Resolve(r.Transform, resize.Info{Width: 640, Height: 480})
			if tr.Width > 4096 || tr.Height > 4096 || tr.Width < 0 || tr.Height < 0 || r.Key == "" {
				t.Fatalf("Parse(%q) = %+v", path, r)
			}
			switch tr.Fit {
			case resize.FitInside, resize.FitCover, resize.FitFill:
			default:
				t.Fatalf("Parse(%q): fit %q after Resolve", path, tr.Fit)
			}
		}
	})
}
