package gateway

import (
	"bytes"
	"image/gif"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/testimages"
	"github.com/edgegate/edgegate/resize"
)

type inputImages struct {
	gif, still, webp, heic, tiff, png16 []byte
}

var loadInputImages = sync.OnceValues(func() (*inputImages, error) {
	var in inputImages
	var err error
	if in.gif, err = testimages.AnimatedGIF(320, 180, 12); err != nil {
		return nil, err
	}
	if in.still, err = testimages.AnimatedGIF(320, 180, 1); err != nil {
		return nil, err
	}
	if in.webp, err = testimages.AnimatedWebP(in.gif); err != nil {
		return nil, err
	}
	if in.heic, err = testimages.HEIC(800, 600); err != nil {
		return nil, err
	}
	if in.tiff, err = testimages.TIFF(300, 200); err != nil {
		return nil, err
	}
	if in.png16, err = testimages.PNG16(120, 80); err != nil {
		return nil, err
	}
	return &in, nil
})

// /img/ serves the issue 17 inputs end to end (versitygw, libvips):
// animations stay animated in the format the client takes, HEIC and TIFF
// become what the client takes, each with the Content-Type of what the
// body decodes as; and the same URL asked by different clients never
// gets another client's cached answer.
func TestImageInputs(t *testing.T) {
	in, err := loadInputImages()
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, demoRules(t), withImages())
	keys := map[string]string{
		"gif":   putObject(t, "anim.gif", in.gif, "image/gif"),
		"still": putObject(t, "still.gif", in.still, "image/gif"),
		"webp":  putObject(t, "anim.webp", in.webp, "image/webp"),
		"heic":  putObject(t, "photo.heic", in.heic, "image/heic"),
		"tiff":  putObject(t, "scan.tiff", in.tiff, "image/tiff"),
		"png16": putObject(t, "deep.png", in.png16, "image/png"),
		// A GIF stored without a type: only probing tells it is animated.
		"untyped": putObject(t, "anim", in.gif, "application/octet-stream"),
	}
	const chrome = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"
	for _, tc := range []struct {
		name, src, path, accept string
		want                    resize.Format
		w, h, frames            int
	}{
		// The same URL for four kinds of client, in this order, so that
		// a wrongly shared cache entry would be served to the next.
		{"animated gif, chrome", "gif", "medium", chrome, resize.WebP, 320, 180, 12},
		{"animated gif, webp only", "gif", "medium", "image/webp", resize.WebP, 320, 180, 12},
		{"animated gif, avif only", "gif", "medium", "image/avif", resize.GIF, 320, 180, 12},
		{"animated gif, old client", "gif", "medium", "", resize.GIF, 320, 180, 12},
		{"animated gif, thumbnail cover", "gif", "thumbnail", chrome, resize.WebP, 150, 150, 12},
		{"animated gif, format=jpeg", "gif", "thumbnail?format=jpeg", chrome, resize.JPEG, 150, 150, 1},
		{"animated gif, format=gif", "gif", "thumbnail?format=gif", chrome, resize.GIF, 150, 150, 12},
		{"untyped animated gif", "untyped", "thumbnail", "image/webp", resize.WebP, 150, 150, 12},
		{"animated webp, old client", "webp", "thumbnail", "", resize.GIF, 150, 150, 12},
		{"animated webp, webp client", "webp", "medium", "image/webp", resize.WebP, 320, 180, 12},
		{"still gif, old client", "still", "medium", "", resize.JPEG, 320, 180, 1},
		{"still gif, chrome", "still", "medium", chrome, resize.AVIF, 320, 180, 1},
		{"heic, old client", "heic", "medium", "image/jpeg", resize.JPEG, 640, 480, 1},
		{"heic, webp client", "heic", "thumbnail", "image/webp", resize.WebP, 150, 150, 1},
		{"heic, chrome", "heic", "medium", chrome, resize.AVIF, 640, 480, 1},
		{"tiff, old client", "tiff", "thumbnail", "", resize.JPEG, 150, 150, 1},
		{"tiff, webp client", "tiff", "medium", "image/webp", resize.WebP, 300, 200, 1},
		{"16-bit png keeps alpha", "png16", "medium", "", resize.PNG, 120, 80, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, query, _ := strings.Cut(tc.path, "?")
			url := g.base + "/img/" + path + "/" + keys[tc.src]
			if query != "" {
				url += "?" + query
			}
			resp, body := get(t, url, "Accept", tc.accept)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %.300s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tc.want.ContentType() {
				t.Errorf("Content-Type %q, want %q", ct, tc.want.ContentType())
			}
			info := probe(t, body)
			if info.Format != tc.want {
				t.Fatalf("body is %v, want %v", info.Format, tc.want)
			}
			w, h, n, err := resize.Frames(body) // libvips, every page
			if err != nil || w != tc.w || h != tc.h || n != tc.frames {
				t.Fatalf("decoded %dx%d, %d frames (%v); want %dx%d, %d frames", w, h, n, err, tc.w, tc.h, tc.frames)
			}
			if tc.want == resize.GIF {
				dec, err := gif.DecodeAll(bytes.NewReader(body))
				if err != nil || len(dec.Image) != tc.frames || dec.Delay[0] != 4 {
					t.Fatalf("image/gif: %v, want %d frames of 40 ms", err, tc.frames)
				}
			}
			if tc.src == "png16" && !info.HasAlpha {
				t.Error("alpha lost")
			}
		})
	}
}

// Animation bombs are refused from the header: a 422 with a JSON body,
// before any decoding (the whole request well under a second).
func TestImageInputsBombs(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages())
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"1000 frames", testimages.FrameBombGIF(64, 64, 1000)},
		{"frames x pixels", testimages.FrameBombGIF(6000, 6000, 20)}, // 720 MP for 400 bytes
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := putObject(t, "bomb.gif", tc.data, "image/gif")
			start := time.Now()
			resp, body := get(t, g.base+"/img/thumbnail/"+key, "Accept", "image/webp")
			took := time.Since(start)
			if resp.StatusCode != http.StatusUnprocessableEntity || !bytes.Contains(body, []byte(`"error"`)) {
				t.Fatalf("status %d: %.300s", resp.StatusCode, body)
			}
			if took > time.Second {
				t.Errorf("refusal took %v", took)
			}
		})
	}
}
