package accesslog

import (
	"net/netip"
	"strings"
	"time"
	"unsafe"
)

// IPSource says how the client IP was derived.
type IPSource uint8

const (
	// IPRemote: the connection's peer address.
	IPRemote IPSource = iota
	// IPXFF: X-Forwarded-For, walked past trusted proxies.
	IPXFF
	// IPHeader: the configured client-IP header of a trusted proxy.
	IPHeader
)

func (s IPSource) String() string {
	switch s {
	case IPXFF:
		return "xff"
	case IPHeader:
		return "header"
	}
	return "remote"
}

// Proto is the HTTP version a request came over.
type Proto uint8

const (
	H1 Proto = iota
	H2
	H3
)

func (p Proto) String() string {
	switch p {
	case H2:
		return "h2"
	case H3:
		return "h3"
	}
	return "h1"
}

// requestLine is the protocol as nginx's $server_protocol writes it.
func (p Proto) requestLine() string {
	switch p {
	case H2:
		return "HTTP/2.0"
	case H3:
		return "HTTP/3.0"
	}
	return "HTTP/1.1"
}

// Cache is where an answer came from: for images the variant cache (HIT,
// MISS: rendered, STORED: the S3 write-back tier); for /r/ the existence
// cache (HIT: answered from memory, MISS: waited for S3).
type Cache uint8

const (
	CacheNone Cache = iota
	CacheHit
	CacheMiss
	CacheStored
)

func (c Cache) String() string {
	switch c {
	case CacheHit:
		return "HIT"
	case CacheMiss:
		return "MISS"
	case CacheStored:
		return "STORED"
	}
	return ""
}

// Fields are an entry's fixed-size facts. The strings must not alias
// request memory (they are read after the request ends): the gateway sets
// them from its immutable rules table and constants.
type Fields struct {
	Time     time.Time     // when the request began
	Duration time.Duration // until the answer was written
	S3       time.Duration // spent in S3 requests made for this one
	ClientIP netip.Addr
	IPSource IPSource
	Proto    Proto
	TLS      bool
	Cache    Cache
	Status   int
	Bytes    int64 // body bytes sent

	Route        string // route | image | other
	Region       string
	RegionSource string
	Rule         string
	Bucket       string
}

// Variable-length fields, copied into the entry (truncated to their caps).
const (
	fMethod = iota
	fURI
	fKey
	fRequestID
	fUserAgent
	fReferer
	nVar
)

// Caps of the copied fields, in bytes; longer values are truncated.
var varCap = [nVar]int{fMethod: 16, fURI: 256, fKey: 256, fRequestID: 64, fUserAgent: 192, fReferer: 192}

var varOff = func() (off [nVar]int) {
	n := 0
	for i, c := range varCap {
		off[i] = n
		n += c
	}
	return off
}()

const varBytes = 16 + 256 + 256 + 64 + 192 + 192

// Entry is one access log line before formatting: fixed-size, so the ring
// holds entries in place and a request allocates nothing to log. Fill the
// Fields and call the setters, which copy (request buffers may be reused
// at once). Not safe for concurrent use: one request fills it.
type Entry struct {
	Fields
	n   [nVar]uint16
	buf [varBytes]byte
	pos uint64 // ring position, for Commit
}

func (e *Entry) set(f int, b []byte) {
	e.n[f] = uint16(copy(e.buf[varOff[f]:varOff[f]+varCap[f]], b))
}

func (e *Entry) setString(f int, s string) {
	e.n[f] = uint16(copy(e.buf[varOff[f]:varOff[f]+varCap[f]], s))
}

// get returns a copied field as a string aliasing the entry: valid until
// the entry is reused.
func (e *Entry) get(f int) string {
	if e.n[f] == 0 {
		return ""
	}
	return unsafe.String(&e.buf[varOff[f]], int(e.n[f]))
}

// SetMethod, SetURI (the request-target as sent), SetKey (the object
// key), SetRequestID, SetUserAgent and SetReferer copy their value.
func (e *Entry) SetMethod(b []byte)    { e.set(fMethod, b) }
func (e *Entry) SetURI(b []byte)       { e.set(fURI, b) }
func (e *Entry) SetKey(s string)       { e.setString(fKey, s) }
func (e *Entry) SetRequestID(b []byte) { e.set(fRequestID, b) }
func (e *Entry) SetUserAgent(b []byte) { e.set(fUserAgent, b) }
func (e *Entry) SetReferer(b []byte)   { e.set(fReferer, b) }
func (e *Entry) Key() string           { return strings.Clone(e.get(fKey)) }
func (e *Entry) RequestID() string     { return strings.Clone(e.get(fRequestID)) }
func (e *Entry) reset()                { e.Fields, e.n = Fields{}, [nVar]uint16{} }
