package gateway

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/resize"
)

// FuzzImagePath: the /img/ path and signature parser never panics, and
// whatever it accepts has a valid key, a transform within the limits, and
// (for custom sizes) a signature that verifies for exactly this path.
func FuzzImagePath(f *testing.F) {
	keys, _ := resize.DecodeKeys([]string{testSigningKey})
	signed := "/img/300x200-cover/photos/a.jpg"
	for _, s := range []string{
		"/img/thumbnail/photos/sample.jpg", signed + "?sig=" + resize.Sign(keys[0], signed),
		"/img/300x200/a.jpg?sig=x", "/img//x", "/img/thumbnail", "/img/9999999x1/a", "/img/medium/../x",
		"/img/medium/a.jpg?format=avif", "/img/0x0-fill/a?sig=",
	} {
		f.Add(s)
	}
	cfg := DefaultConfig()
	cfg.Images.SigningKeys = []string{testSigningKey}
	images, err := resize.New(cfg.Images.Config)
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{cfg: cfg, images: images, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.Fuzz(func(t *testing.T, uri string) {
		if !strings.HasPrefix(uri, "/img/") || strings.ContainsAny(uri, " \r\n\t#") {
			return
		}
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(uri)
		path := rawPath(ctx.RequestURI())
		ir, e := s.parseImageRequest(&ctx, path, path[len(prefixImage):])
		if e != nil {
			if e.Status < 400 || e.Status > 499 {
				t.Fatalf("%q: status %d", uri, e.Status)
			}
			return
		}
		if validKey(ir.key) != nil {
			t.Fatalf("%q: accepted bad key %q", uri, ir.key)
		}
		if ir.tr.Width > cfg.Images.MaxWidth || ir.tr.Height > cfg.Images.MaxHeight {
			t.Fatalf("%q: accepted %dx%d over the limits", uri, ir.tr.Width, ir.tr.Height)
		}
		if ir.tr.Custom() && !images.Verify(string(path), string(ctx.QueryArgs().Peek("sig"))) {
			t.Fatalf("%q: custom size accepted without a valid signature", uri)
		}
	})
}
