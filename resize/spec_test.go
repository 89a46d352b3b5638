package resize

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	p := newProcessor(t)
	tests := []struct {
		in     string
		want   Transform
		status int
		is     error
	}{
		{in: "thumbnail", want: Transform{Preset: "thumbnail", Width: 150, Height: 150, Fit: FitCover, Folder: "thumbnails/"}},
		{in: "medium", want: Transform{Preset: "medium", Width: 640, Fit: FitInside, Folder: "medium/"}},
		{in: "300x200", want: Transform{Width: 300, Height: 200, Fit: FitInside}},
		{in: "300x0-inside", want: Transform{Width: 300, Fit: FitInside}},
		{in: "0x300", want: Transform{Height: 300, Fit: FitInside}},
		{in: "640x480-cover", want: Transform{Width: 640, Height: 480, Fit: FitCover}},
		{in: "10x10-fill", want: Transform{Width: 10, Height: 10, Fit: FitFill}},
		{in: "4096x4096", want: Transform{Width: 4096, Height: 4096, Fit: FitInside}},
		{in: "4097x10", status: 400, is: ErrTooLarge},
		{in: "10x4097-cover", status: 400, is: ErrTooLarge},
		{in: "99999x99999", status: 400, is: ErrTooLarge},
		{in: "0x0", status: 400, is: ErrBadSpec},
		{in: "300x0-cover", status: 400, is: ErrBadSpec},
		{in: "0x10-fill", status: 400, is: ErrBadSpec},
		{in: "", status: 400, is: ErrBadSpec},
		{in: "Thumbnail", status: 400, is: ErrBadSpec},
		{in: "300", status: 400, is: ErrBadSpec},
		{in: "300x", status: 400, is: ErrBadSpec},
		{in: "x200", status: 400, is: ErrBadSpec},
		{in: "300X200", status: 400, is: ErrBadSpec},
		{in: "0300x200", status: 400, is: ErrBadSpec},
		{in: "+300x200", status: 400, is: ErrBadSpec},
		{in: "-300x200", status: 400, is: ErrBadSpec},
		{in: "300x200-", status: 400, is: ErrBadSpec},
		{in: "300x200-contain", status: 400, is: ErrBadSpec},
		{in: "300x200-cover-x", status: 400, is: ErrBadSpec},
		{in: "123456x1", status: 400, is: ErrBadSpec},
		{in: "300 x200", status: 400, is: ErrBadSpec},
		{in: "300x200\x00", status: 400, is: ErrBadSpec},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := p.ParseSpec(tc.in)
			if tc.status == 0 {
				if err != nil || got != tc.want {
					t.Fatalf("ParseSpec = %+v, %v; want %+v", got, err, tc.want)
				}
				if got.Custom() != (tc.want.Preset == "") {
					t.Error("Custom() wrong")
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status || !errors.Is(err, tc.is) {
				t.Fatalf("ParseSpec = %+v, %v; want status %d wrapping %v", got, err, tc.status, tc.is)
			}
		})
	}
}

func TestSpecRoundTrip(t *testing.T) {
	p := newProcessor(t)
	for _, s := range []string{"thumbnail", "large", "300x200", "300x0-inside", "640x480-cover", "7x9-fill"} {
		a, err := p.ParseSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		b, err := p.ParseSpec(a.Spec())
		if err != nil || a != b {
			t.Errorf("%q → %q → %+v, %v", s, a.Spec(), b, err)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"thumbnail", "300x200", "300x0-inside", "640x480-cover", "1x1-fill", "0x0", "99999x1", "a", "", "12x34-", "4096x4096-cover"} {
		f.Add(s)
	}
	p := newProcessor(f)
	cfg := p.Config()
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := p.ParseSpec(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("ParseSpec(%q) error %v is not a 400 *Error", s, err)
			}
			return
		}
		if tr.Custom() {
			if tr.Width < 0 || tr.Height < 0 || tr.Width > cfg.MaxWidth || tr.Height > cfg.MaxHeight ||
				tr.Width == 0 && tr.Height == 0 || tr.Upscale && !strings.Contains(s, "el:1") || !tr.Fit.valid() {
				t.Fatalf("ParseSpec(%q) accepted %+v", s, tr)
			}
			if tr.Fit != FitInside && (tr.Width == 0 || tr.Height == 0) {
				t.Fatalf("ParseSpec(%q): %s with a zero side", s, tr.Fit)
			}
		}
		back, err := p.ParseSpec(tr.Spec())
		if err != nil || back != tr {
			t.Fatalf("ParseSpec(%q).Spec() = %q does not round-trip: %+v, %v", s, tr.Spec(), back, err)
		}
	})
}
