//go:build !race

package evloop

import "testing"

func TestParseRequestZeroAllocs(t *testing.T) {
	in := []byte(typicalRequest)
	var r Request
	var buf [64]byte
	allocs := testing.AllocsPerRun(1000, func() {
		if _, res := parseRequest(&r, in, testMaxHead); res != parseOK {
			t.Fatal(res)
		}
		if r.Header("host") == nil || r.Header("X-Missing") != nil {
			t.Fatal("Header")
		}
		if v, ok := r.Arg(buf[:0], "fit"); !ok || string(v) != "crop center" {
			t.Fatalf("Arg(fit) = %q, %v", v, ok)
		}
		if _, ok := r.Arg(buf[:0], "missing"); ok {
			t.Fatal("Arg(missing)")
		}
		r.IsHead()
	})
	if allocs != 0 {
		t.Errorf("parseRequest + Header + Arg: %v allocations per run, want 0", allocs)
	}
	// A query whose keys need decoding (the key comparison path).
	r.Query = []byte("a%20b=1&c+d=2&w=640")
	allocs = testing.AllocsPerRun(1000, func() {
		if v, ok := r.Arg(buf[:0], "c d"); !ok || string(v) != "2" {
			t.Fatalf("Arg(c d) = %q, %v", v, ok)
		}
	})
	if allocs != 0 {
		t.Errorf("Arg with escaped keys: %v allocations per run, want 0", allocs)
	}
}
