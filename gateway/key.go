package gateway

import (
	"net/http"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// MaxKeyLen is the longest object key accepted, in bytes (S3's own limit).
const MaxKeyLen = 1024

// parseKey percent-decodes the raw key taken from the request path and
// rejects anything that is not a plain relative object key: empty, too
// long, a leading '/', a backslash, a "." or ".." segment, control
// characters or invalid UTF-8. The raw path is used (not fasthttp's
// normalised one) so that "a/../b" is refused, not silently rewritten.
func parseKey(raw []byte) (string, *Error) {
	key, err := parseKeyInto(nil, raw)
	return string(key), err
}

// parseKeyInto is parseKey for the hot path: the decoded key is written to
// *buf (or, with no escapes, is raw itself) and returned as a string that
// aliases that memory: valid only while the request and buf are.
func parseKeyInto(buf *[]byte, raw []byte) (string, *Error) {
	if len(raw) == 0 {
		return "", errorf(http.StatusBadRequest, "empty key")
	}
	var dst []byte
	if buf != nil {
		dst = (*buf)[:0]
	}
	out, ok := unescapePath(dst, raw)
	if !ok {
		return "", errorf(http.StatusBadRequest, "key has a malformed percent escape")
	}
	if buf != nil && len(out) > 0 && &out[0] != &raw[0] {
		*buf = out
	}
	key := b2s(out)
	if err := validKey(key); err != nil {
		return "", err
	}
	return key, nil
}

func validKey(key string) *Error {
	switch {
	case key == "":
		return errorf(http.StatusBadRequest, "empty key")
	case len(key) > MaxKeyLen:
		return errorf(http.StatusBadRequest, "key is %d bytes, over the %d-byte limit", len(key), MaxKeyLen)
	case key[0] == '/':
		return errorf(http.StatusBadRequest, "key must not start with '/'")
	case strings.IndexByte(key, '\\') >= 0:
		return errorf(http.StatusBadRequest, "key must not contain a backslash")
	case !utf8.ValidString(key):
		return errorf(http.StatusBadRequest, "key is not valid UTF-8")
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == 0x7f {
			return errorf(http.StatusBadRequest, "key contains a control character at byte %d", i)
		}
	}
	for rest := key; ; {
		seg, tail, more := strings.Cut(rest, "/")
		if seg == ".." || seg == "." {
			return errorf(http.StatusBadRequest, "key must not contain %q segments", seg)
		}
		if seg == "" {
			return errorf(http.StatusBadRequest, "key must not contain empty segments ('//' or a trailing '/')")
		}
		if !more {
			return nil
		}
		rest = tail
	}
}

// unescapePath decodes %XX escapes into dst[:0] and returns it; without
// escapes it returns raw itself. '+' stays '+' (a path, not a query).
func unescapePath(dst, raw []byte) ([]byte, bool) {
	n := 0
	for i := 0; i < len(raw); i++ {
		if raw[i] == '%' {
			n++
		}
	}
	if n == 0 {
		return raw, true
	}
	if len(raw) < 3*n {
		return nil, false // some '%' cannot be followed by two hex digits
	}
	out := dst[:0]
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '%' {
			out = append(out, c)
			continue
		}
		if i+2 >= len(raw) {
			return nil, false
		}
		h, ok1 := unhex(raw[i+1])
		l, ok2 := unhex(raw[i+2])
		if !ok1 || !ok2 {
			return nil, false
		}
		out = append(out, h<<4|l)
		i += 2
	}
	return out, true
}

// b2s views b as a string without copying. The string is only valid while
// b is neither modified nor reused: request-scoped use only, and anything
// that keeps such a string (a cache) must clone it.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

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

// s2b views s as bytes without copying, for APIs that take []byte and copy
// it (fasthttp header setters). The bytes must not be modified.
func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
