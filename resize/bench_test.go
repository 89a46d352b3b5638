package resize

import (
	"context"
	"testing"

	"github.com/h2non/bimg"
)

// Run with:
//
//	go test -run x -bench . -benchmem -benchtime 20x ./resize/
//
// BenchmarkProcess and BenchmarkBimgDirect do the same work on the same
// 1920×1080 JPEG; their ratio is resize's overhead (Check, option building,
// WebP chunk stripping) over bare bimg.

var benchFormats = []Format{JPEG, WebP, AVIF}
var benchPresets = []string{"thumbnail", "medium", "large"}

func BenchmarkProcess(b *testing.B) {
	p, f := newProcessor(b), fx(b)
	for _, preset := range benchPresets {
		tr, _ := p.ParseSpec(preset)
		for _, format := range benchFormats {
			b.Run(preset+"/"+format.String(), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(f.jpeg1080)))
				for b.Loop() {
					if _, _, err := p.Process(f.jpeg1080, tr, format); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkBimgDirect(b *testing.B) {
	p, f := newProcessor(b), fx(b)
	src, err := Probe(f.jpeg1080)
	if err != nil {
		b.Fatal(err)
	}
	for _, preset := range benchPresets {
		tr, _ := p.ParseSpec(preset)
		for _, format := range benchFormats {
			opts, _, _ := p.options(src, tr, format)
			b.Run(preset+"/"+format.String(), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(f.jpeg1080)))
				for b.Loop() {
					if _, err := bimg.NewImage(f.jpeg1080).Process(opts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkNegotiate(b *testing.B) {
	accept := []byte(chromeAccept)
	b.ReportAllocs()
	for b.Loop() {
		if f, _ := Negotiate(accept, "", JPEG, false); f != AVIF {
			b.Fatal(f)
		}
	}
}

func BenchmarkProbe(b *testing.B) {
	f := fx(b)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"jpeg", f.jpeg1080}, {"jpeg-exif", f.exifJPEG}, {"png", f.alphaPNG},
		{"webp", f.webp1080}, {"avif", f.avif}, {"bomb", bombPNG(100000, 100000)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Probe(tc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseSpec(b *testing.B) {
	p := newProcessor(b)
	for _, s := range []string{"thumbnail", "640x480-cover"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.ParseSpec(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	k1, k2 := make([]byte, 32), make([]byte, 32)
	k2[0] = 1
	const path = "/img/300x200-cover/photos/a.jpg"
	sig := Sign(k2, path)
	keys := [][]byte{k1, k2}
	b.ReportAllocs()
	for b.Loop() {
		if !Verify(keys, path, sig) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkAdmission(b *testing.B) {
	a := NewAdmission(64, 64, 1e9)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := a.Acquire(ctx, 2)
			if err != nil {
				b.Fatal(err)
			}
			r()
		}
	})
}
