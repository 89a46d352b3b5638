package resize

import (
	"errors"
	"testing"
)

const chromeAccept = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name     string
		accept   string
		explicit string
		src      Format
		alpha    bool
		want     Format
		status   int
	}{
		{"chrome gets avif", chromeAccept, "", JPEG, false, AVIF, 0},
		{"safari 16 style: webp only", "image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5", "", JPEG, false, WebP, 0},
		{"no accept keeps jpeg", "", "", JPEG, false, JPEG, 0},
		{"wildcards do not mean avif", "image/*,*/*", "", JPEG, false, JPEG, 0},
		{"avif q=0 falls to webp", "image/avif;q=0,image/webp", "", JPEG, false, WebP, 0},
		{"q=0.0 and q=0.000 are zero", "image/avif; q=0.0, image/webp ;q=0.000", "", JPEG, false, JPEG, 0},
		{"q=0.001 is accepted", "image/avif;q=0.001", "", JPEG, false, AVIF, 0},
		{"Q=0 upper case", "image/webp;Q=0", "", JPEG, false, JPEG, 0},
		{"q with spaces", "image/webp ; q = 0", "", JPEG, false, JPEG, 0},
		{"other params then q", "image/webp;level=1;q=0", "", JPEG, false, JPEG, 0},
		{"case-insensitive type", "IMAGE/WEBP", "", JPEG, false, WebP, 0},
		{"prefix is not a match", "image/webpx,image/avi", "", JPEG, false, JPEG, 0},
		{"duplicate with q>0 accepts", "image/webp;q=0, image/webp;q=0.5", "", JPEG, false, WebP, 0},
		{"png source stays png", "text/html", "", PNG, false, PNG, 0},
		{"alpha png stays png", "*/*", "", PNG, true, PNG, 0},
		{"alpha png to webp", "image/webp", "", PNG, true, WebP, 0},
		{"alpha png to avif", chromeAccept, "", PNG, true, AVIF, 0},
		{"webp source, old client: jpeg", "*/*", "", WebP, false, JPEG, 0},
		{"webp alpha source, old client: png", "*/*", "", WebP, true, PNG, 0},
		{"avif source, webp client", "image/webp", "", AVIF, false, WebP, 0},
		{"explicit wins over accept", chromeAccept, "jpeg", PNG, false, JPEG, 0},
		{"explicit jpg alias", "", "jpg", PNG, false, JPEG, 0},
		{"explicit png", chromeAccept, "PNG", JPEG, false, PNG, 0},
		{"explicit webp", "", "webp", JPEG, false, WebP, 0},
		{"explicit avif", "", "avif", JPEG, false, AVIF, 0},
		{"explicit unknown", chromeAccept, "bmp", JPEG, false, 0, 400},
		{"explicit junk", "", "jpeg;", JPEG, false, 0, 400},
		{"malformed accept", ",,;;,;q=,image/webp;q", "", JPEG, false, WebP, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Negotiate([]byte(tc.accept), tc.explicit, tc.src, tc.alpha)
			if tc.status != 0 {
				var e *Error
				if !errors.As(err, &e) || e.Status != tc.status || !errors.Is(err, ErrBadSpec) {
					t.Fatalf("Negotiate = %v, %v; want a %d error", got, err, tc.status)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Negotiate = %v, %v; want %v", got, err, tc.want)
			}
			if tc.alpha && tc.explicit == "" && got == JPEG {
				t.Fatal("alpha negotiated to JPEG")
			}
			if VariesByAccept(tc.explicit) != (tc.explicit == "") {
				t.Error("VariesByAccept wrong")
			}
		})
	}
}

func TestNegotiateDoesNotAllocate(t *testing.T) {
	accept := []byte(chromeAccept + ", image/webp;q=0 , IMAGE/AVIF ; q=0.9")
	allocs := testing.AllocsPerRun(1000, func() {
		if f, err := Negotiate(accept, "", PNG, true); err != nil || f != AVIF {
			t.Fatalf("Negotiate = %v, %v", f, err)
		}
		if f, _ := Negotiate(accept, "webp", JPEG, false); f != WebP {
			t.Fatal("explicit ignored")
		}
	})
	if allocs != 0 {
		t.Errorf("Negotiate allocates %.1f times per call", allocs)
	}
}

func TestFormatNames(t *testing.T) {
	tests := []struct {
		f          Format
		name, mime string
		ext        string
	}{
		{JPEG, "jpeg", "image/jpeg", ".jpg"},
		{PNG, "png", "image/png", ".png"},
		{WebP, "webp", "image/webp", ".webp"},
		{AVIF, "avif", "image/avif", ".avif"},
		{0, "unknown", "application/octet-stream", ""},
	}
	for _, tc := range tests {
		if tc.f.String() != tc.name || tc.f.ContentType() != tc.mime || tc.f.Ext() != tc.ext {
			t.Errorf("%d: %s %s %s", tc.f, tc.f.String(), tc.f.ContentType(), tc.f.Ext())
		}
		if tc.f != 0 {
			if got, ok := ParseFormat(tc.name); !ok || got != tc.f {
				t.Errorf("ParseFormat(%q) = %v, %v", tc.name, got, ok)
			}
		}
	}
}
