package imgproxy

import (
	"encoding/base64"
	"strings"
	"testing"
)

// The filename and return_attachment options, as imgproxy documents them,
// and the Content-Disposition imgproxy would send: the source's base name
// without its extension by default, the result format's extension after.
func TestContentDisposition(t *testing.T) {
	p := newParser(t, nil)
	b64 := base64.RawURLEncoding.EncodeToString([]byte("résumé photo"))
	for _, tc := range []struct {
		name, opts, src, ext, want string
	}{
		{"default: the source's name", "w:100", "plain/" + docSourcePlain, ".webp", `inline; filename="curiosity.webp"`},
		{"base64 source", "w:100", docSourceB64 + ".png", ".png", `inline; filename="curiosity.png"`},
		{"filename", "fn:mars", "plain/" + docSourcePlain, ".jpg", `inline; filename="mars.jpg"`},
		{"filename escaped", "filename:my%20photo", "plain/" + docSourcePlain, ".jpg", `inline; filename="my photo.jpg"`},
		{"filename base64, not ASCII", "fn:" + b64 + ":1", "plain/" + docSourcePlain, ".avif",
			`inline; filename="r__sum__ photo.avif"; filename*=UTF-8''r%C3%A9sum%C3%A9%20photo.avif`},
		{"quotes escaped", "fn:a%22b%5Cc", "plain/" + docSourcePlain, ".jpg", `inline; filename="a\"b\\c.jpg"`},
		{"control characters replaced", "fn:a%0D%0AX-Evil%3A%201", "plain/" + docSourcePlain, ".jpg",
			`inline; filename="a__X-Evil: 1.jpg"; filename*=UTF-8''a%0D%0AX-Evil%3A%201.jpg`},
		{"attachment", "att:1/w:10", "plain/" + docSourcePlain, ".jpg", `attachment; filename="curiosity.jpg"`},
		{"attachment false", "return_attachment:false", "plain/" + docSourcePlain, ".jpg", `inline; filename="curiosity.jpg"`},
		{"no base name", "w:10", "plain/local:///x/", ".png", `inline; filename="x.png"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := p.Parse("/_/"+tc.opts+"/"+tc.src, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := ContentDisposition(r, tc.ext); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if got := ContentDisposition(r, tc.ext); strings.ContainsAny(got, "\r\n") {
				t.Errorf("a line break in the header: %q", got)
			}
		})
	}
	for _, tc := range []struct{ opts, msg string }{
		{"fn:a:1:2", "want fn:{name}"},
		{"fn:a:maybe", "not a boolean"},
		{"fn:!!!:1", "not URL-safe base64"},
		{"fn:%zz", "malformed percent escape"},
		{"fn:" + strings.Repeat("a", 256), "over 255"},
		{"fn:%FF%FE", "not UTF-8"},
		{"att:2", "not a boolean"},
	} {
		_, err := p.Parse("/_/"+tc.opts+"/plain/"+docSourcePlain, now)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want an error saying %q", tc.opts, err, tc.msg)
		}
	}
}
