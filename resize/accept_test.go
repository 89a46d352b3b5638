package resize

import "testing"

func TestAccepts(t *testing.T) {
	for _, c := range []struct {
		accept           string
		jpeg, webp, avif bool
	}{
		{"", true, false, false},
		{"image/*", true, false, false},
		{"image/avif,image/webp,*/*", true, true, true},
		{"image/webp", true, true, false},
		{"image/avif;q=0, image/webp;q=0.5", true, true, false},
		{"IMAGE/AVIF", true, false, true},
	} {
		a := []byte(c.accept)
		if Accepts(a, JPEG) != c.jpeg || Accepts(a, PNG) != c.jpeg || Accepts(a, WebP) != c.webp || Accepts(a, AVIF) != c.avif {
			t.Errorf("Accept %q: jpeg %v webp %v avif %v, want %v %v %v", c.accept,
				Accepts(a, JPEG), Accepts(a, WebP), Accepts(a, AVIF), c.jpeg, c.webp, c.avif)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Accepts([]byte("image/avif,image/webp"), WebP) }); n != 0 {
		t.Errorf("Accepts allocates %v times", n)
	}
}
