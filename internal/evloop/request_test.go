package evloop

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

const testMaxHead = 8 << 10

// head builds a request head: each line ends in CRLF, then an empty line.
func head(lines ...string) string {
	return strings.Join(lines, "\r\n") + "\r\n\r\n"
}

// manyHeaders is a GET with n "X-Hn: v" header lines.
func manyHeaders(n int) string {
	lines := []string{"GET / HTTP/1.1"}
	for i := range n {
		lines = append(lines, fmt.Sprintf("X-H%d: v", i))
	}
	return head(lines...)
}

type parseCase struct {
	name string
	in   string
	max  int // max head; 0: testMaxHead
	res  parseResult
	// For parseOK:
	n                           int // 0: len(in)
	method, target, path, query string
	closes                      bool              // KeepAlive is false
	hdrs                        map[string]string // Header(k) == v; v "<nil>" means absent
	numHeaders                  int               // -1: do not check
	noQuery                     bool              // Query must be nil
}

var parseCases = []parseCase{
	{name: "plain GET", in: head("GET / HTTP/1.1", "Host: example.com"),
		res: parseOK, method: "GET", target: "/", path: "/", noQuery: true,
		hdrs: map[string]string{"Host": "example.com"}, numHeaders: 1},
	{name: "GET without headers", in: head("GET /x HTTP/1.1"),
		res: parseOK, method: "GET", target: "/x", path: "/x", noQuery: true, numHeaders: 0},
	{name: "HEAD", in: head("HEAD /a/b HTTP/1.1", "Host: h"),
		res: parseOK, method: "HEAD", target: "/a/b", path: "/a/b", noQuery: true, numHeaders: 1},
	{name: "other token method is ours (the handler decides)", in: head("PURGE /x HTTP/1.1", "Host: h"),
		res: parseOK, method: "PURGE", target: "/x", path: "/x", numHeaders: 1},
	{name: "path and query split", in: head("GET /p/q?a=1&b=2 HTTP/1.1", "Host: h"),
		res: parseOK, method: "GET", target: "/p/q?a=1&b=2", path: "/p/q", query: "a=1&b=2", numHeaders: 1},
	{name: "query ends at fragment", in: head("GET /p?a=1#frag?x HTTP/1.1", "Host: h"),
		res: parseOK, method: "GET", target: "/p?a=1#frag?x", path: "/p", query: "a=1", numHeaders: 1},
	{name: "fragment without query", in: head("GET /p#f?x=1 HTTP/1.1", "Host: h"),
		res: parseOK, method: "GET", target: "/p#f?x=1", path: "/p", noQuery: true, numHeaders: 1},
	{name: "empty query", in: head("GET /p? HTTP/1.1", "Host: h"),
		res: parseOK, method: "GET", target: "/p?", path: "/p", query: "", numHeaders: 1},
	{name: "second question mark belongs to query", in: head("GET /p?a=?b HTTP/1.1"),
		res: parseOK, method: "GET", target: "/p?a=?b", path: "/p", query: "a=?b", numHeaders: 0},
	{name: "valid percent escapes in path", in: head("GET /a%20b%2F?q=%zz HTTP/1.1"),
		res: parseOK, method: "GET", target: "/a%20b%2F?q=%zz", path: "/a%20b%2F", query: "q=%zz", numHeaders: 0},
	{name: "header values trimmed of spaces and tabs", in: head("GET / HTTP/1.1", "Host: \t h \t ", "X-Empty:", "X-Tight:v", "X-Inner: a \t b "),
		res: parseOK, method: "GET", target: "/", path: "/",
		hdrs: map[string]string{"Host": "h", "X-Empty": "", "X-Tight": "v", "X-Inner": "a \t b"}, numHeaders: 4},
	{name: "header lookup is case-insensitive and the last line wins", in: head("GET / HTTP/1.1", "X-A: 1", "x-a: 2", "X-B: b", "X-a: 3"),
		res: parseOK, method: "GET", target: "/", path: "/",
		hdrs: map[string]string{"X-A": "3", "x-A": "3", "X-B": "b", "x-b": "b", "X-C": "<nil>", "X-": "<nil>"}, numHeaders: 4},
	{name: "obs-text in header value is kept", in: head("GET / HTTP/1.1", "X-U: caf\xc3\xa9"),
		res: parseOK, method: "GET", target: "/", path: "/", hdrs: map[string]string{"X-U": "caf\xc3\xa9"}, numHeaders: 1},
	{name: "Connection close", in: head("GET / HTTP/1.1", "Host: h", "Connection: close"),
		res: parseOK, method: "GET", target: "/", path: "/", closes: true, numHeaders: 2},
	{name: "Connection keep-alive, Close", in: head("GET / HTTP/1.1", "Connection: keep-alive, Close"),
		res: parseOK, method: "GET", target: "/", path: "/", closes: true, numHeaders: 1},
	{name: "close token in a second Connection line", in: head("GET / HTTP/1.1", "Connection: keep-alive", "connection:  foo ,CLOSE\t"),
		res: parseOK, method: "GET", target: "/", path: "/", closes: true, numHeaders: 2},
	{name: "Connection keep-alive stays open", in: head("GET / HTTP/1.1", "Connection: keep-alive"),
		res: parseOK, method: "GET", target: "/", path: "/", numHeaders: 1},
	{name: "Connection token merely containing close stays open", in: head("GET / HTTP/1.1", "Connection: closed, xclose"),
		res: parseOK, method: "GET", target: "/", path: "/", numHeaders: 1},
	{name: "Host name with a port", in: head("GET / HTTP/1.1", "Host: Edge-1.example:8080"),
		res: parseOK, method: "GET", target: "/", path: "/", hdrs: map[string]string{"Host": "Edge-1.example:8080"}, numHeaders: 1},
	{name: "Host IPv4 address", in: head("GET / HTTP/1.1", "Host: 127.0.0.1"),
		res: parseOK, method: "GET", target: "/", path: "/", hdrs: map[string]string{"Host": "127.0.0.1"}, numHeaders: 1},
	{name: "Content-Length 0 accepted", in: head("GET / HTTP/1.1", "Content-Length: 0"),
		res: parseOK, method: "GET", target: "/", path: "/", hdrs: map[string]string{"content-length": "0"}, numHeaders: 1},
	{name: "exactly MaxHeaders headers", in: manyHeaders(MaxHeaders),
		res: parseOK, method: "GET", target: "/", path: "/", numHeaders: MaxHeaders},
	{name: "head exactly maxHead long", in: head("GET /exact HTTP/1.1", "Host: h"), max: len(head("GET /exact HTTP/1.1", "Host: h")),
		res: parseOK, method: "GET", target: "/exact", path: "/exact", numHeaders: 1},
	{name: "two pipelined requests: n is the first one's length",
		in:  head("GET /one HTTP/1.1", "Host: h") + head("GET /two HTTP/1.1", "Host: h"),
		n:   len(head("GET /one HTTP/1.1", "Host: h")),
		res: parseOK, method: "GET", target: "/one", path: "/one", numHeaders: 1},
	{name: "pipelined request after one without headers",
		in:  head("GET /one HTTP/1.1") + "GET /two HTTP/1.1\r\n",
		n:   len(head("GET /one HTTP/1.1")),
		res: parseOK, method: "GET", target: "/one", path: "/one", numHeaders: 0},
	{name: "body bytes after a request are not part of it",
		in:  head("GET /one HTTP/1.1") + "garbage",
		n:   len(head("GET /one HTTP/1.1")),
		res: parseOK, method: "GET", target: "/one", path: "/one", numHeaders: 0},

	// Not ours: the full server decides.
	{name: "non-zero Content-Length", in: head("POST / HTTP/1.1", "Content-Length: 5") + "hello", res: parseNotOurs},
	{name: "Content-Length 00", in: head("GET / HTTP/1.1", "Content-Length: 00"), res: parseNotOurs},
	{name: "Content-Length empty", in: head("GET / HTTP/1.1", "Content-Length:"), res: parseNotOurs},
	{name: "Transfer-Encoding", in: head("POST / HTTP/1.1", "Transfer-Encoding: chunked") + "0\r\n\r\n", res: parseNotOurs},
	{name: "Transfer-Encoding any case", in: head("GET / HTTP/1.1", "transfer-ENCODING: identity"), res: parseNotOurs},
	{name: "Expect", in: head("GET / HTTP/1.1", "Expect: 100-continue"), res: parseNotOurs},
	{name: "Upgrade", in: head("GET / HTTP/1.1", "Connection: Upgrade", "Upgrade: websocket"), res: parseNotOurs},
	{name: "HTTP/1.0", in: head("GET / HTTP/1.0", "Host: h"), res: parseNotOurs},
	{name: "HTTP/2.0", in: head("GET / HTTP/2.0"), res: parseNotOurs},
	{name: "lower-case version", in: head("GET / http/1.1"), res: parseNotOurs},
	{name: "absolute-form target", in: head("GET http://h/x HTTP/1.1", "Host: h"), res: parseNotOurs},
	{name: "asterisk-form target", in: head("OPTIONS * HTTP/1.1", "Host: h"), res: parseNotOurs},
	{name: "authority-form target", in: head("CONNECT h:443 HTTP/1.1", "Host: h:443"), res: parseNotOurs},
	{name: "obs-fold with space", in: head("GET / HTTP/1.1", "X-A: a", " b"), res: parseNotOurs},
	{name: "obs-fold with tab", in: head("GET / HTTP/1.1", "X-A: a", "\tb"), res: parseNotOurs},
	{name: "first header line folded", in: head("GET / HTTP/1.1", " X-A: a"), res: parseNotOurs},
	{name: "bare-LF request", in: "GET / HTTP/1.1\n\n", res: parseNotOurs},
	{name: "bare-LF request with headers", in: "GET / HTTP/1.1\nHost: h\n\n", res: parseNotOurs},
	{name: "bare LF ending the head", in: "GET / HTTP/1.1\r\nHost: h\r\n\n", res: parseNotOurs},
	{name: "bare LF inside a header value", in: head("GET / HTTP/1.1", "X-A: a\nb"), res: parseNotOurs},
	{name: "bare CR inside a header value", in: head("GET / HTTP/1.1", "X-A: a\rb"), res: parseNotOurs},
	{name: "NUL in header value", in: head("GET / HTTP/1.1", "X-A: a\x00b"), res: parseNotOurs},
	{name: "DEL in header value", in: head("GET / HTTP/1.1", "X-A: a\x7fb"), res: parseNotOurs},
	{name: "escape in header value", in: head("GET / HTTP/1.1", "X-A: \x1b[31m"), res: parseNotOurs},
	{name: "more than MaxHeaders headers", in: manyHeaders(MaxHeaders + 1), res: parseNotOurs},
	{name: "head longer than maxHead", in: head("GET /exact HTTP/1.1", "Host: h"), max: len(head("GET /exact HTTP/1.1", "Host: h")) - 1, res: parseNotOurs},
	{name: "incomplete head longer than maxHead", in: "GET /" + strings.Repeat("a", 100), max: 64, res: parseNotOurs},
	{name: "space in header name", in: head("GET / HTTP/1.1", "Host : h"), res: parseNotOurs},
	{name: "empty header name", in: head("GET / HTTP/1.1", ": h"), res: parseNotOurs},
	{name: "header line without colon", in: head("GET / HTTP/1.1", "Host"), res: parseNotOurs},
	{name: "non-token header name", in: head("GET / HTTP/1.1", "X(A): h"), res: parseNotOurs},
	{name: "two Host headers", in: head("GET / HTTP/1.1", "Host: a", "host: b"), res: parseNotOurs},
	// A Host value that is not plainly a name or an IPv4 address with an
	// optional port is fasthttp's to judge (it refuses some: 400 on both).
	{name: "empty Host", in: head("GET / HTTP/1.1", "Host:"), res: parseNotOurs},
	{name: "Host with a space", in: head("GET / HTTP/1.1", "Host: a b"), res: parseNotOurs},
	{name: "Host bare IPv6", in: head("GET / HTTP/1.1", "Host: ::1"), res: parseNotOurs},
	{name: "Host IPv6 literal", in: head("GET / HTTP/1.1", "Host: [::1]:80"), res: parseNotOurs},
	{name: "Host with userinfo", in: head("GET / HTTP/1.1", "Host: u@h"), res: parseNotOurs},
	{name: "Host with an escape", in: head("GET / HTTP/1.1", "Host: h%41"), res: parseNotOurs},
	{name: "Host non-ASCII", in: head("GET / HTTP/1.1", "Host: caf\xc3\xa9"), res: parseNotOurs},
	{name: "Host with a bad port", in: head("GET / HTTP/1.1", "Host: h:8o"), res: parseNotOurs},
	{name: "Host with an empty port", in: head("GET / HTTP/1.1", "Host: h:"), res: parseNotOurs},
	{name: "two Content-Length 0", in: head("GET / HTTP/1.1", "Content-Length: 0", "Content-Length: 0"), res: parseNotOurs},
	{name: "empty request line", in: "\r\n" + head("GET / HTTP/1.1"), res: parseNotOurs},
	{name: "lone CRLFCRLF", in: "\r\n\r\n", res: parseNotOurs},
	{name: "no target", in: head("GET HTTP/1.1"), res: parseNotOurs},
	{name: "double space before target", in: head("GET  / HTTP/1.1"), res: parseNotOurs},
	{name: "double space after target", in: head("GET /  HTTP/1.1"), res: parseNotOurs},
	{name: "space in target", in: head("GET /a b HTTP/1.1"), res: parseNotOurs},
	{name: "tab in target", in: head("GET /a\tb HTTP/1.1"), res: parseNotOurs},
	{name: "DEL in target", in: head("GET /a\x7fb HTTP/1.1"), res: parseNotOurs},
	{name: "non-token method", in: head("G(T / HTTP/1.1"), res: parseNotOurs},
	{name: "invalid percent escape in path", in: head("GET /a%zz HTTP/1.1"), res: parseNotOurs},
	{name: "truncated percent escape in path", in: head("GET /a%2 HTTP/1.1"), res: parseNotOurs},
	{name: "percent escape cut by the query", in: head("GET /a%?x HTTP/1.1"), res: parseNotOurs},
	{name: "invalid percent escape after a fragment mark", in: head("GET /a#%zz HTTP/1.1"), res: parseNotOurs},
}

func TestParseRequest(t *testing.T) {
	var r Request // reused on purpose: nothing may leak from one parse to the next
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = testMaxHead
			}
			n, res := parseRequest(&r, []byte(tc.in), max)
			if res != tc.res {
				t.Fatalf("parseRequest(%q) = %v, want %v", tc.in, res, tc.res)
			}
			if res != parseOK {
				return
			}
			wantN := tc.n
			if wantN == 0 {
				wantN = len(tc.in)
			}
			if n != wantN {
				t.Errorf("n = %d, want %d", n, wantN)
			}
			check := func(what string, got []byte, want string) {
				t.Helper()
				if string(got) != want {
					t.Errorf("%s = %q, want %q", what, got, want)
				}
			}
			check("Method", r.Method, tc.method)
			check("Target", r.Target, tc.target)
			check("Path", r.Path, tc.path)
			check("Query", r.Query, tc.query)
			if tc.noQuery && r.Query != nil {
				t.Errorf("Query = %q, want nil", r.Query)
			}
			if r.KeepAlive == tc.closes {
				t.Errorf("KeepAlive = %v, want %v", r.KeepAlive, !tc.closes)
			}
			if r.IsHead() != (tc.method == "HEAD") {
				t.Errorf("IsHead() = %v", r.IsHead())
			}
			if tc.numHeaders >= 0 && r.NumHeaders() != tc.numHeaders {
				t.Errorf("NumHeaders() = %d, want %d", r.NumHeaders(), tc.numHeaders)
			}
			for k, v := range tc.hdrs {
				got := r.Header(k)
				if v == "<nil>" {
					if got != nil {
						t.Errorf("Header(%q) = %q, want nil", k, got)
					}
					continue
				}
				if got == nil || string(got) != v {
					t.Errorf("Header(%q) = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestParseRequestHeaderAt(t *testing.T) {
	var r Request
	in := head("GET / HTTP/1.1", "Host:  h ", "x-Mixed-CASE:\tv", "X-Empty:")
	if _, res := parseRequest(&r, []byte(in), testMaxHead); res != parseOK {
		t.Fatalf("res = %v", res)
	}
	want := [][2]string{{"Host", "h"}, {"x-Mixed-CASE", "v"}, {"X-Empty", ""}}
	if r.NumHeaders() != len(want) {
		t.Fatalf("NumHeaders() = %d, want %d", r.NumHeaders(), len(want))
	}
	for i, w := range want {
		name, value := r.HeaderAt(i)
		if string(name) != w[0] || string(value) != w[1] {
			t.Errorf("HeaderAt(%d) = %q, %q; want %q, %q", i, name, value, w[0], w[1])
		}
	}
	// A later parse of a request without headers must not see these.
	if _, res := parseRequest(&r, []byte(head("GET / HTTP/1.1")), testMaxHead); res != parseOK {
		t.Fatalf("res = %v", res)
	}
	if r.NumHeaders() != 0 || r.Header("Host") != nil {
		t.Errorf("stale headers: NumHeaders() = %d, Host = %q", r.NumHeaders(), r.Header("Host"))
	}
	// KeepAlive is reset too.
	parseRequest(&r, []byte(head("GET / HTTP/1.1", "Connection: close")), testMaxHead)
	parseRequest(&r, []byte(head("GET / HTTP/1.1")), testMaxHead)
	if !r.KeepAlive {
		t.Error("KeepAlive stuck at false from the previous request")
	}
}

// Every proper prefix of a request the loop takes is incomplete: the loop
// must wait for more rather than hand off or answer.
func TestParseRequestIncompletePrefixes(t *testing.T) {
	var r Request
	for _, tc := range parseCases {
		if tc.res != parseOK {
			continue
		}
		max := tc.max
		if max == 0 {
			max = testMaxHead
		}
		first := tc.in
		if tc.n != 0 {
			first = tc.in[:tc.n]
		}
		for i := range len(first) {
			if _, res := parseRequest(&r, []byte(first[:i]), max); res != parseIncomplete {
				t.Errorf("%s: prefix %q: %v, want parseIncomplete", tc.name, first[:i], res)
				break
			}
		}
	}
	// A bare-LF request is recognised before it is complete.
	if _, res := parseRequest(&r, []byte("GET / HTTP/1.1\nHost: h\n\n"), testMaxHead); res != parseNotOurs {
		t.Errorf("bare LF prefix: %v, want parseNotOurs", res)
	}
}

func TestHasToken(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"close", true},
		{"Close", true},
		{"keep-alive, Close", true},
		{" close ,x", true},
		{"x,\tclose", true},
		{"", false},
		{"closed", false},
		{"clo se", false},
		{"keep-alive", false},
		{",,", false},
	} {
		if got := hasToken([]byte(tc.v), "close"); got != tc.want {
			t.Errorf("hasToken(%q, close) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func argRequest(query string) *Request {
	return &Request{Query: []byte(query)}
}

func TestArg(t *testing.T) {
	long := strings.Repeat("k", 70)
	for _, tc := range []struct {
		name, query, key string
		val              string
		found            bool
	}{
		{"simple", "a=1&b=2", "b", "2", true},
		{"first occurrence wins", "a=1&a=2", "a", "1", true},
		{"missing", "a=1&b=2", "c", "", false},
		{"empty query", "", "a", "", false},
		{"key without =", "x&a&b=1", "a", "", true},
		{"key with empty value", "a=&b=1", "a", "", true},
		{"key is not a prefix match", "ab=1", "a", "", false},
		{"value keeps later =", "a=1=2", "a", "1=2", true},
		{"plus is a space", "q=hello+world", "q", "hello world", true},
		{"percent escapes", "q=%41%62%2b%26", "q", "Ab+&", true},
		{"invalid escape kept", "q=%zz%4", "q", "%zz%4", true},
		{"lone percent", "q=%", "q", "%", true},
		{"percent then plus at the end is kept as sent", "q=%+", "q", "%+", true},
		{"percent, plus at the end", "q=a%b+", "q", "a%b ", true},
		{"double percent then plus", "q=%%+", "q", "%%+", true},
		{"escaped key", "a%20b=1&a+b=2", "a b", "1", true},
		{"plus key", "x=0&a+b=2", "a b", "2", true},
		{"escaped key longer than the stack buffer", long + "%21=v", long + "!", "v", true},
		{"empty pairs skipped", "&&a=1&", "a", "1", true},
		{"empty key with value is an argument", "=v&a=1", "", "v", true},
		{"empty key without value is not", "&=&a=1", "", "", false},
		{"semicolon is not a separator", "a=1;b=2", "a", "1;b=2", true},
		{"escaped ampersand in key", "a%26b=1", "a&b", "1", true},
		{"escaped = in key", "a%3Db=1", "a=b", "1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			val, found := argRequest(tc.query).Arg(nil, tc.key)
			if found != tc.found || string(val) != tc.val {
				t.Errorf("Arg(%q) on %q = %q, %v; want %q, %v", tc.key, tc.query, val, found, tc.val, tc.found)
			}
			checkArgAgainstFasthttp(t, tc.query, tc.key)
		})
	}
}

func TestArgUsesDst(t *testing.T) {
	r := argRequest("q=a+b&r=xyz")
	dst := make([]byte, 3, 64)
	copy(dst, "old")
	val, found := r.Arg(dst, "q")
	if !found || string(val) != "a b" {
		t.Fatalf("Arg = %q, %v", val, found)
	}
	if &val[0] != &dst[:1][0] {
		t.Error("Arg did not decode into dst's storage")
	}
	val, found = r.Arg(dst, "missing")
	if found || len(val) != 0 {
		t.Errorf("missing: %q, %v", val, found)
	}
}

// checkArgAgainstFasthttp: Arg must agree with fasthttp's query arguments,
// which the gateway used before the loops.
func checkArgAgainstFasthttp(t *testing.T, query, key string) {
	t.Helper()
	var a fasthttp.Args
	a.Parse(query)
	wantFound := a.Has(key)
	wantVal := a.Peek(key)
	val, found := argRequest(query).Arg(nil, key)
	if found != wantFound || !bytes.Equal(val, wantVal) {
		t.Errorf("Arg(%q) on %q = %q, %v; fasthttp says %q, %v", key, query, val, found, wantVal, wantFound)
	}
}

// A deterministic run of the differential check over queries drawn from a
// small, tricky alphabet, so plain `go test` covers much more than the
// fuzz seeds.
func TestArgMatchesFasthttpRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ab=&%+2F0zA"
	var a fasthttp.Args
	buf := make([]byte, 0, 64)
	for range 20000 {
		q := make([]byte, rng.IntN(12))
		for i := range q {
			q[i] = alphabet[rng.IntN(len(alphabet))]
		}
		a.ParseBytes(q)
		keys := []string{"", "a", "b", "a b", "%", "%+", "ab", "+"}
		for k := range a.All() {
			keys = append(keys, string(k))
		}
		r := argRequest(string(q))
		for _, key := range keys {
			val, found := r.Arg(buf, key)
			if found != a.Has(key) || !bytes.Equal(val, a.Peek(key)) {
				t.Fatalf("Arg(%q) on %q = %q, %v; fasthttp says %q, %v", key, q, val, found, a.Peek(key), a.Has(key))
			}
		}
	}
}

func FuzzArg(f *testing.F) {
	for _, s := range [][2]string{
		{"a=1&b=2", "b"}, {"a=1&a=2", "a"}, {"a", "a"}, {"a=", "a"}, {"q=%+", "q"},
		{"q=%%+", "q"}, {"=v", ""}, {"a%20b=1", "a b"}, {"a+b=%zz", "a b"}, {"&&", ""},
		{strings.Repeat("%41", 30) + "=x", strings.Repeat("A", 30)},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, query, key string) {
		checkArgAgainstFasthttp(t, query, key)
		// Every key fasthttp sees must be found with the same value.
		var a fasthttp.Args
		a.Parse(query)
		for k := range a.All() {
			checkArgAgainstFasthttp(t, query, string(k))
		}
	})
}

func BenchmarkParseRequest(b *testing.B) {
	in := []byte(typicalRequest)
	var r Request
	var buf [64]byte
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, res := parseRequest(&r, in, testMaxHead); res != parseOK {
			b.Fatal(res)
		}
		r.Header("Accept-Encoding")
		r.Arg(buf[:0], "w")
	}
}

// typicalRequest is what a browser sends for an image.
var typicalRequest = head(
	"GET /img/products/1234/photo.jpg?w=640&h=480&fit=crop%20center&q=80 HTTP/1.1",
	"Host: cdn.example.com",
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	"Accept: image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5",
	"Accept-Language: en-US,en;q=0.5",
	"Accept-Encoding: gzip, deflate, br, zstd",
	"Referer: https://www.example.com/products/1234",
	"Connection: keep-alive",
	"Sec-Fetch-Dest: image",
	"Sec-Fetch-Mode: no-cors",
	"Sec-Fetch-Site: same-site",
	"If-None-Match: \"5d8c72a5edda8\"",
	"Priority: u=5, i",
)

func TestRequestParse(t *testing.T) {
	var r Request
	two := plainGet("/one") + plainGet("/two")
	if n, ok := r.Parse([]byte(two)); !ok || n != len(plainGet("/one")) || string(r.Path) != "/one" {
		t.Errorf("Parse(two requests) = %d, %v, path %q", n, ok, r.Path)
	}
	for _, in := range []string{"GET / HTTP/1.1\r\nHost: h\r\n", head("GET / HTTP/1.0"), head("POST / HTTP/1.1", "Content-Length: 1") + "x"} {
		if _, ok := r.Parse([]byte(in)); ok {
			t.Errorf("Parse(%q) ok, want not", in)
		}
	}
	// The default head limit is 8 KiB.
	if _, ok := r.Parse([]byte(head("GET / HTTP/1.1", "X: "+strings.Repeat("x", 8<<10)))); ok {
		t.Error("Parse took a head over 8 KiB")
	}
}

// plainGet is a GET for path (server_test.go, Linux only, has get).
func plainGet(path string) string { return head("GET "+path+" HTTP/1.1", "Host: x") }
