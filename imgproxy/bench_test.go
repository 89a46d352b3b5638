package imgproxy

import "testing"

// BenchmarkParse: a signed URL with four options and a plain source, as
// every /imgproxy/ request pays before the variant cache is consulted.
func BenchmarkParse(b *testing.B) {
	p := signed(b, nil)
	path := "/rs:fill:300:200:0/g:sm/q:80/bl:1/plain/" + docSourcePlain + "@webp"
	url := "/" + p.sig.sign(0, path) + path
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(url, now); err != nil {
			b.Fatal(err)
		}
	}
}
