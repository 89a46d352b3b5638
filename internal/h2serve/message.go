package h2serve

import (
	"crypto/tls"
	"net/netip"
)

// span is a field's name and value as offsets into an arena.
type span struct{ ns, ne, vs, ve int }

// Request is one HTTP/2 request, as the Handler sees it. Its byte slices
// point into a buffer the server reuses: they are valid only during the
// Fast or Slow call. Not safe for concurrent use.
type Request struct {
	// Method, Scheme, Authority and Path are the pseudo-header fields
	// (Authority from Host when :authority is absent).
	Method, Scheme, Authority, Path []byte
	// Peer is the client's address, TLS the connection's TLS state (nil
	// on a plain connection).
	Peer netip.AddrPort
	TLS  *tls.ConnectionState
	// StreamID is the request's stream.
	StreamID uint32

	buf    []byte
	fields []span
	pseudo [4]span // method, scheme, authority, path
	has    [4]bool
}

// NumHeaders is the number of regular (non-pseudo) header fields.
func (r *Request) NumHeaders() int { return len(r.fields) }

// HeaderAt returns the i-th regular header field; names are lower case.
func (r *Request) HeaderAt(i int) (name, value []byte) {
	s := r.fields[i]
	return r.buf[s.ns:s.ne], r.buf[s.vs:s.ve]
}

// Header returns the value of the first field named name (lower case), or
// nil.
func (r *Request) Header(name string) []byte {
	for _, s := range r.fields {
		if string(r.buf[s.ns:s.ne]) == name {
			return r.buf[s.vs:s.ve]
		}
	}
	return nil
}

// AppendHeader adds a regular field to a request built by hand (tests
// and benchmarks of handlers); the slices already set stay valid only if
// they do not point into the request.
func (r *Request) AppendHeader(name, value string) {
	ns := len(r.buf)
	r.buf = append(r.buf, name...)
	vs := len(r.buf)
	r.buf = append(r.buf, value...)
	r.fields = append(r.fields, span{ns, vs, vs, len(r.buf)})
}

// Reset empties the Response for another answer, keeping its memory.
func (r *Response) Reset() { r.reset() }

func (r *Request) reset() {
	r.Method, r.Scheme, r.Authority, r.Path = nil, nil, nil, nil
	r.buf = r.buf[:0]
	r.fields = r.fields[:0]
	r.has = [4]bool{}
	r.StreamID = 0
}

// respField is one answer header: a string pair (may be indexed by HPACK)
// or, when bytes is set, a name and value in the Response's arena (sent
// never-indexed, so HPACK keeps no reference to reused memory).
type respField struct {
	name, value string
	sp          span
	bytes       bool
}

// Response is a Handler's answer. The server sends Content-Length itself
// (the length of Body, also for HEAD, whose body is not sent) and drops the
// connection-specific fields HTTP/2 forbids. Body must not change until the
// stream is done: the server may hold it while waiting for the peer's
// flow-control window. Not safe for concurrent use.
type Response struct {
	Status int
	Body   []byte

	buf    []byte
	own    []byte // SetBodyCopy's
	fields []respField
}

// AddHeader adds a field. Use it for values that repeat across answers
// (HPACK may index them); name is sent in lower case.
func (r *Response) AddHeader(name, value string) {
	r.fields = append(r.fields, respField{name: name, value: value})
}

// AddHeaderBytes adds a field from bytes, copied. Use it for per-request
// values; name is sent in lower case.
func (r *Response) AddHeaderBytes(name, value []byte) { addCopy(r, name, value) }

// AddHeaderCopy is AddHeaderBytes with a string name.
func (r *Response) AddHeaderCopy(name string, value []byte) { addCopy(r, name, value) }

// AddHeaderCopyString is AddHeaderBytes with strings: for a per-request
// value (a signed URL) that HPACK should not index.
func (r *Response) AddHeaderCopyString(name, value string) { addCopy(r, name, value) }

func addCopy[N, V string | []byte](r *Response, name N, value V) {
	ns := len(r.buf)
	r.buf = append(r.buf, name...)
	vs := len(r.buf)
	r.buf = append(r.buf, value...)
	r.fields = append(r.fields, respField{sp: span{ns, vs, vs, len(r.buf)}, bytes: true})
}

// SetBodyCopy sets Body to a copy of b, in memory the Response keeps for
// its next use.
func (r *Response) SetBodyCopy(b []byte) {
	r.own = append(r.own[:0], b...)
	r.Body = r.own
}

func (r *Response) reset() {
	r.Status = 0
	r.Body = nil
	r.buf = r.buf[:0]
	if cap(r.own) > 64<<10 {
		r.own = nil // an image's copy is not kept in the pool
	}
	clear(r.fields)
	r.fields = r.fields[:0]
}

// Handler answers requests. Fast runs on the connection's goroutine and
// must not block: it answers (true) or declines (false, with resp left for
// the server to reset), and then Slow runs on a goroutine of its own. Both
// may be called concurrently for different requests.
type Handler interface {
	Fast(req *Request, resp *Response) bool
	Slow(req *Request, resp *Response)
}
