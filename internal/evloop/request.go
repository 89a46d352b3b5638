package evloop

import (
	"bytes"
	"net/netip"
)

// MaxHeaders is the most header lines a loop request may carry; a request
// with more is handed off.
const MaxHeaders = 64

type header struct{ name, value []byte }

// Request is one parsed request. Its byte slices alias the connection's
// input buffer: they are valid only until the Handler call returns (for
// ServeBlocking, until it returns).
type Request struct {
	// Method is the request method as sent ("GET", "HEAD", ...).
	Method []byte
	// Target is the request-target exactly as sent (origin form: it starts
	// with '/').
	Target []byte
	// Path is Target up to the first '?' or '#', not decoded.
	Path []byte
	// Query is Target after the first '?' up to a '#', not decoded.
	Query []byte
	// Peer is the TCP peer's address.
	Peer netip.Addr
	// KeepAlive is false when the client asked to close the connection
	// after this answer; the answer should then say "Connection: close".
	KeepAlive bool
	// TLS is true for a request that came over TLS (Server.ServeTLS).
	TLS bool

	hdrs [MaxHeaders]header
	nh   int
	host bool
}

// HasHost reports whether the request has a Host header line, which
// HTTP/1.1 requires (RFC 9112, section 3.2).
func (r *Request) HasHost() bool { return r.host }

// NumHeaders is the number of header lines.
func (r *Request) NumHeaders() int { return r.nh }

// HeaderAt returns the i-th header line's name (as sent) and value
// (without surrounding whitespace).
func (r *Request) HeaderAt(i int) (name, value []byte) {
	h := &r.hdrs[i]
	return h.name, h.value
}

// Header returns the value of the last header line named name (ASCII
// case-insensitive), or nil.
func (r *Request) Header(name string) []byte {
	for i := r.nh - 1; i >= 0; i-- {
		if equalFold(r.hdrs[i].name, name) {
			return r.hdrs[i].value
		}
	}
	return nil
}

// IsHead reports whether the method is HEAD: the answer carries headers
// only.
func (r *Request) IsHead() bool { return string(r.Method) == "HEAD" }

// Arg returns the first query argument named key, percent- and
// plus-decoded into dst[:0], the way form arguments are decoded (an invalid
// escape is kept as sent). found is false when there is no such argument;
// "?key" and "?key=" are found with an empty value.
func (r *Request) Arg(dst []byte, key string) (val []byte, found bool) {
	q := r.Query
	for len(q) > 0 {
		var kv []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			kv, q = q[:i], q[i+1:]
		} else {
			kv, q = q, nil
		}
		k, v := kv, []byte(nil)
		if i := bytes.IndexByte(kv, '='); i >= 0 {
			k, v = kv[:i], kv[i+1:]
		}
		if len(k) == 0 && len(v) == 0 {
			continue // fasthttp drops only pairs with neither key nor value
		}
		if !decodedEquals(k, key) {
			continue
		}
		return decodeArg(dst[:0], v), true
	}
	return dst[:0], false
}

// decodedEquals reports whether the form-decoded k equals key.
func decodedEquals(k []byte, key string) bool {
	if bytes.IndexByte(k, '%') < 0 && bytes.IndexByte(k, '+') < 0 {
		return string(k) == key
	}
	var buf [64]byte
	if len(k) > len(buf) {
		return string(decodeArg(nil, k)) == key
	}
	return string(decodeArg(buf[:0], k)) == key
}

// decodeArg appends the form-decoded v to dst, exactly as fasthttp's
// Args do.
func decodeArg(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '+':
			dst = append(dst, ' ')
		case '%':
			if i+2 >= len(v) {
				// Like fasthttp: a '%' in the last two bytes keeps the
				// rest as sent, '+' included.
				return append(dst, v[i:]...)
			}
			hi, ok1 := unhex(v[i+1])
			lo, ok2 := unhex(v[i+2])
			if ok1 && ok2 {
				dst = append(dst, hi<<4|lo)
				i += 2
				continue
			}
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// Parse outcomes.
type parseResult int

const (
	parseIncomplete parseResult = iota // need more bytes
	parseOK                            // a whole request
	parseNotOurs                       // valid or not, the loop does not take it: hand off
	parseBad                           // cannot start a request (TLS, binary): refuse and close
)

// tchar is RFC 9110's token alphabet.
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

// parseRequest parses the request at the start of b into r and returns
// its length. The loop answers only what it parses here with parseOK.
func parseRequest(r *Request, b []byte, maxHead int) (int, parseResult) {
	// One pass over the head, line by line: every line must end in CRLF
	// (a bare LF is not ours), and the first empty line ends the head.
	if len(b) > maxHead {
		b = b[:maxHead+1] // whatever is past the limit cannot make it ours
	}
	if len(b) > 0 && b[0] != '\r' && b[0] != '\n' { // (empty lines before a request are the full server's)
		for _, c := range b { // the method, up to the first space
			if c == ' ' {
				break
			}
			if c < ' ' || c >= 0x7f { // a control or non-ASCII byte: binary
				return 0, parseBad
			}
		}
	}
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		if len(b) > maxHead {
			return 0, parseNotOurs
		}
		return 0, parseIncomplete
	}
	if nl == 0 || b[nl-1] != '\r' {
		return 0, parseNotOurs
	}
	line := b[:nl-1]
	pos := nl + 1
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return 0, parseNotOurs
	}
	r.Method, r.Target = line[:sp1], line[sp1+1:sp2]
	if string(line[sp2+1:]) != "HTTP/1.1" || !isToken(r.Method) || r.Target[0] != '/' || !validTarget(r.Target) {
		return 0, parseNotOurs
	}
	t := r.Target
	if j := bytes.IndexByte(t, '#'); j >= 0 {
		t = t[:j]
	}
	r.Path, r.Query = t, nil
	if j := bytes.IndexByte(t, '?'); j >= 0 {
		r.Path, r.Query = t[:j], t[j+1:]
	}
	r.KeepAlive = true
	r.nh = 0
	host, length := false, false
	for {
		nl := bytes.IndexByte(b[pos:], '\n')
		if nl < 0 {
			if len(b) > maxHead {
				return 0, parseNotOurs
			}
			return 0, parseIncomplete
		}
		if nl == 0 || b[pos+nl-1] != '\r' {
			return 0, parseNotOurs
		}
		line := b[pos : pos+nl-1]
		pos += nl + 1
		if len(line) == 0 { // the empty line: end of the head
			if pos > maxHead {
				return 0, parseNotOurs
			}
			r.host = host
			return pos, parseOK
		}
		if line[0] == ' ' || line[0] == '\t' { // obsolete line folding
			return 0, parseNotOurs
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) || r.nh == MaxHeaders {
			return 0, parseNotOurs
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return 0, parseNotOurs
			}
		}
		switch len(name) { // the names that matter to the loop, by length
		case len("Host"):
			if equalFold(name, "Host") {
				if host || !plainHost(value) { // net/http refuses a second one
					return 0, parseNotOurs
				}
				host = true
			}
		case len("Expect"):
			if equalFold(name, "Expect") {
				return 0, parseNotOurs
			}
		case len("Upgrade"):
			if equalFold(name, "Upgrade") {
				return 0, parseNotOurs
			}
		case len("Connection"):
			if equalFold(name, "Connection") && hasToken(value, "close") {
				r.KeepAlive = false
			}
		case len("Content-Length"):
			if equalFold(name, "Content-Length") {
				if length || string(value) != "0" { // fasthttp refuses a second one
					return 0, parseNotOurs
				}
				length = true
			}
		case len("Transfer-Encoding"):
			if equalFold(name, "Transfer-Encoding") {
				return 0, parseNotOurs
			}
		}
		r.hdrs[r.nh] = header{name, value}
		r.nh++
	}
}

// hostChar is what the loop takes in a Host value's name: letters, digits,
// '-' and '.' (a DNS name or an IPv4 address).
var hostChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	t['-'], t['.'] = true, true
	return t
}()

// plainHost reports whether a Host value is plainly valid: a name of
// hostChar bytes, then optionally ':' and a port's digits. Anything else
// (empty, an IPv6 literal, an escape, userinfo, a space, non-ASCII) is the
// full server's to judge, so that both refuse the same values (RFC 9112,
// section 3.2: 400 for an invalid Host).
func plainHost(v []byte) bool {
	colon := -1
	for i, c := range v {
		switch {
		case colon >= 0: // the port
			if c < '0' || c > '9' {
				return false
			}
		case c == ':':
			colon = i
		case !hostChar[c]:
			return false
		}
	}
	return colon != 0 && colon != len(v)-1 && len(v) > 0
}

// headScan remembers how far the search for the end of a partial head
// has got, so that a head arriving in many reads is searched once, not
// parsed again from its start on every read.
type headScan struct {
	from int  // bytes of the partial head already searched
	lf   bool // a '\n' is among them: the request line is whole
}

// ready reports whether b (the partial head searched before, with new
// bytes after it) is worth parsing again: nothing was searched yet, the
// request line has just become whole (it may be refused at once), the
// head's end has come (an empty line, or a bare LF the parse refuses), or
// b is over limit. It searches only the new bytes (and the two before).
func (h *headScan) ready(b []byte, limit int) bool {
	if h.from == 0 || h.from > len(b) || len(b) > limit {
		return true
	}
	if !h.lf && bytes.IndexByte(b[h.from:], '\n') >= 0 {
		return true
	}
	back := b[max(h.from-2, 0):]
	return bytes.Contains(back, crlfEnd) || bytes.Contains(back, lfEnd)
}

var crlfEnd, lfEnd = []byte("\n\r\n"), []byte("\n\n")

// validTarget reports whether target has no spaces or control characters
// and every '%' in its path (up to the first '?', '#' included: net/url
// reads it so) is a valid escape, as net/http demands.
func validTarget(target []byte) bool {
	query := false
	for i := 0; i < len(target); i++ {
		switch c := target[i]; {
		case c <= ' ' || c == 0x7f:
			return false
		case c == '?':
			query = true // net/url checks escapes in the path only
		case c == '%' && !query:
			if i+2 >= len(target) {
				return false
			}
			if _, ok := unhex(target[i+1]); !ok {
				return false
			}
			if _, ok := unhex(target[i+2]); !ok {
				return false
			}
			i += 2
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// hasToken reports whether the comma-separated list v holds tok (ASCII
// case-insensitive).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		if equalFold(trimOWS(item), tok) {
			return true
		}
	}
	return false
}

// Parse parses the request at the start of b as a loop would, with the
// default head limit (for tests and benchmarks of handlers). ok is false
// when b does not start with a whole request a loop would take.
func (r *Request) Parse(b []byte) (n int, ok bool) {
	n, res := parseRequest(r, b, 8<<10)
	return n, res == parseOK
}
