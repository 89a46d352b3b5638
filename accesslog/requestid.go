package accesslog

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
)

// MaxIDBytes bounds a request id taken from a proxy.
const MaxIDBytes = 64

// ValidID reports whether id, an X-Request-Id from a trusted proxy, may be
// used as it is: 1..64 bytes of ASCII letters, digits and -_.:@+=/ (UUIDs,
// trace ids, nginx's $request_id, base64). Anything else is replaced by a
// new id, never echoed.
func ValidID(id []byte) bool {
	if len(id) == 0 || len(id) > MaxIDBytes {
		return false
	}
	for _, c := range id {
		if !idByte[c] {
			return false
		}
	}
	return true
}

var idByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "-_.:@+=/" {
		t[c] = true
	}
	return t
}()

// TraceID returns the trace id (32 lower-case hex digits) of a valid W3C
// traceparent header value (https://www.w3.org/TR/trace-context/#traceparent-header):
// version-traceid-parentid-flags, all lower-case hex, version not ff,
// neither id all zeros; a version above 00 may carry more after a '-'.
// The result aliases tp.
func TraceID(tp []byte) ([]byte, bool) {
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return nil, false
	}
	ver := tp[0:2]
	if !lowerHex(ver) || string(ver) == "ff" {
		return nil, false
	}
	if len(tp) > 55 && (string(ver) == "00" || tp[55] != '-') {
		return nil, false
	}
	tid, pid, flags := tp[3:35], tp[36:52], tp[53:55]
	if !lowerHex(tid) || !lowerHex(pid) || !lowerHex(flags) || allZeros(tid) || allZeros(pid) {
		return nil, false
	}
	return tid, true
}

func lowerHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func allZeros(b []byte) bool {
	for _, c := range b {
		if c != '0' {
			return false
		}
	}
	return true
}

// IDs generates request ids: 32 lower-case hex digits, a random prefix
// drawn once (crypto/rand) and a counter, so that ids are unique within a
// process and, with overwhelming probability, across processes; they have
// a W3C trace id's shape. Safe for concurrent use; no allocation.
type IDs struct {
	prefix [16]byte
	n      atomic.Uint64
}

// NewIDs returns a generator with a fresh random prefix.
func NewIDs() *IDs {
	var raw [8]byte
	rand.Read(raw[:]) // never fails (crypto/rand, Go 1.24+)
	g := &IDs{}
	hex.Encode(g.prefix[:], raw[:])
	return g
}

// Append appends a new id to dst.
func (g *IDs) Append(dst []byte) []byte {
	n := g.n.Add(1)
	dst = append(dst, g.prefix[:]...)
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[(n>>uint(shift))&0xf])
	}
	return dst
}
