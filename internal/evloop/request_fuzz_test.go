package evloop

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"testing"
	"unsafe"
)

// within reports whether sub lies inside b's memory.
func within(sub, b []byte) bool {
	if len(sub) == 0 {
		return true
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return p >= lo && p+uintptr(len(sub)) <= lo+uintptr(len(b))
}

func FuzzParseRequest(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(typicalRequest))
	f.Add([]byte("GET /a?b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nPragma: no-cache\r\nContent-Length: 0\r\ncontent-length: 0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var r Request
		const max = 1 << 10
		n, res := parseRequest(&r, in, max)
		switch res {
		case parseIncomplete:
			if bytes.Contains(in, []byte("\r\n\r\n")) || len(in) > max {
				t.Fatalf("incomplete, yet the input holds a whole head (or is too long): %q", in)
			}
			return
		case parseNotOurs:
			return
		case parseBad:
			if !binaryMethod(in) {
				t.Fatalf("refused as not HTTP, yet it starts with a method: %q", in)
			}
			return
		case parseOK:
		default:
			t.Fatalf("result %d", res)
		}
		if n <= 0 || n > len(in) || n > max {
			t.Fatalf("n = %d, len(in) = %d", n, len(in))
		}
		whole := in[:n]
		for what, s := range map[string][]byte{"Method": r.Method, "Target": r.Target, "Path": r.Path, "Query": r.Query} {
			if !within(s, whole) {
				t.Fatalf("%s %q is not a sub-slice of the request", what, s)
			}
		}
		if !bytes.HasPrefix(r.Target, r.Path) || bytes.ContainsAny(r.Path, "?#") {
			t.Fatalf("Path %q does not start Target %q", r.Path, r.Target)
		}
		if r.Query != nil && !bytes.HasPrefix(r.Target[len(r.Path):], append([]byte("?"), r.Query...)) {
			t.Fatalf("Query %q does not follow Path in Target %q", r.Query, r.Target)
		}
		for i := range r.NumHeaders() {
			name, value := r.HeaderAt(i)
			if !within(name, whole) || !within(value, whole) {
				t.Fatalf("header %q: %q is not a sub-slice of the request", name, value)
			}
		}

		// The same bytes parse alone, with the same length.
		var r2 Request
		if n2, res2 := parseRequest(&r2, bytes.Clone(whole), max); res2 != parseOK || n2 != n {
			t.Fatalf("the request alone: %d, %v; want %d, parseOK", n2, res2, n)
		}
		// Its proper prefixes are incomplete.
		for _, k := range []int{n - 1, n - 2, n / 2} {
			if k < 0 {
				continue
			}
			if _, res := parseRequest(&r2, whole[:k], max); res != parseIncomplete {
				t.Fatalf("prefix %q: %v, want parseIncomplete", whole[:k], res)
			}
		}

		// net/http must agree: anything the loop answers is a request the
		// standard library takes the same way.
		hr, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(in)))
		if err != nil {
			t.Fatalf("loop accepts %q, net/http rejects it: %v", whole, err)
		}
		if hr.Method != string(r.Method) || hr.RequestURI != string(r.Target) {
			t.Fatalf("net/http: %q %q; loop: %q %q", hr.Method, hr.RequestURI, r.Method, r.Target)
		}
		if hr.ProtoMajor != 1 || hr.ProtoMinor != 1 {
			t.Fatalf("net/http proto %q", hr.Proto)
		}
		if hr.Close == r.KeepAlive {
			t.Fatalf("net/http Close = %v, loop KeepAlive = %v", hr.Close, r.KeepAlive)
		}
		if hr.ContentLength != 0 || len(hr.TransferEncoding) != 0 {
			t.Fatalf("net/http sees a body: ContentLength %d, TransferEncoding %q", hr.ContentLength, hr.TransferEncoding)
		}
		for i := range r.NumHeaders() {
			name, _ := r.HeaderAt(i)
			key := textproto.CanonicalMIMEHeaderKey(string(name))
			vs := hr.Header.Values(key)
			if key == "Host" { // net/http moves it to Request.Host
				vs = []string{hr.Host}
			}
			if len(vs) == 0 || vs[len(vs)-1] != string(r.Header(string(name))) {
				t.Fatalf("header %q: loop %q, net/http %q", name, r.Header(string(name)), vs)
			}
		}
	})
}

// binaryMethod reports whether in's bytes before its first space (all of
// them without one) hold a control or non-ASCII byte, in not starting with
// an empty line.
func binaryMethod(in []byte) bool {
	if len(in) == 0 || in[0] == '\r' || in[0] == '\n' {
		return false
	}
	for _, c := range in {
		if c == ' ' {
			return false
		}
		if c < ' ' || c >= 0x7f {
			return true
		}
	}
	return false
}
