package evloop

import (
	"bytes"
	"testing"
)

// FuzzHeadScan feeds a head in pieces of step bytes, as reads would,
// and parses only when headScan says so: whenever a parse of all the
// bytes so far would find a whole request, headScan must have said to
// parse, and at the end the outcome is the same as one parse.
func FuzzHeadScan(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in), uint8(1))
	}
	f.Add([]byte(typicalRequest), uint8(1))
	f.Add([]byte(typicalRequest), uint8(3))
	f.Add([]byte("GET / HTTP/1.0\r\nHost: x\r\n\r\n"), uint8(2))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\n\n"), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		const limit = 1 << 10
		st := max(int(step), 1)
		var h headScan
		var r Request
		for end := min(st, len(in)); end <= len(in); end += st {
			b := in[:min(end, len(in))]
			_, want := parseRequest(&r, b, limit)
			if !h.ready(b, limit) {
				if want == parseOK {
					t.Fatalf("headScan %+v said wait on %q, a whole request", h, b)
				}
				h.from = len(b)
			} else {
				if want != parseIncomplete {
					return
				}
				h = headScan{from: len(b), lf: bytes.IndexByte(b, '\n') >= 0}
			}
			if end >= len(in) {
				break
			}
		}
	})
}

// A head fed a byte at a time is searched once: ready is true only when
// the request line becomes whole and when the head ends.
func TestHeadScanByteAtATime(t *testing.T) {
	in := []byte("GET /r/k HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n")
	var h headScan
	var r Request
	parses := 0
	for end := 1; end <= len(in); end++ {
		b := in[:end]
		if !h.ready(b, 8<<10) {
			h.from = len(b)
			continue
		}
		parses++
		if _, res := parseRequest(&r, b, 8<<10); res != parseIncomplete {
			if res != parseOK || end != len(in) {
				t.Fatalf("parse at %d: %v", end, res)
			}
			break
		}
		h = headScan{from: len(b), lf: bytes.IndexByte(b, '\n') >= 0}
	}
	if parses != 3 { // the first byte, the request line's end, the head's end
		t.Errorf("%d parses, want 3", parses)
	}
}
