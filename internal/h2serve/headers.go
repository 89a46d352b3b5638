package h2serve

import (
	"strconv"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// What a header block is for, decided at its HEADERS frame.
const (
	blkRequest     = iota // a new stream's request
	blkTrailers           // trailers on an open stream: refused (400)
	blkHalfClosed         // HEADERS on a half-closed stream: STREAM_CLOSED
	blkClosed             // HEADERS on a closed stream: connection error
	blkRefused            // past MaxConcurrentStreams: REFUSED_STREAM
	blkSelfDep            // depends on itself: PROTOCOL_ERROR
	blkDiscard            // after GOAWAY: decoded (HPACK state) and ignored
	blkBadTrailers        // a second HEADERS without END_STREAM
)

// block is the header block being read (HEADERS, then CONTINUATION).
type block struct {
	active    bool
	kind      int
	id        uint32
	endStream bool
	start     time.Time
	raw       int
	decoded   int
	conts     int
	tooLarge  bool
	invalid   bool
	sawReg    bool
	hasHost   bool
	host      span
	st        *stream // the request's stream (blkRequest, blkTrailers)
}

func (c *conn) headers(f *http2.HeadersFrame) {
	id := f.StreamID
	if id%2 == 0 {
		c.fail(http2.ErrCodeProtocol, &c.srv.stat.protocolErrors)
		return
	}
	b := &c.blk
	*b = block{active: true, id: id, endStream: f.StreamEnded(), start: c.lastFrame}
	if st := c.streams[id]; st != nil {
		switch {
		case st.state != stOpen:
			b.kind = blkHalfClosed
		case f.StreamEnded():
			b.kind, b.st = blkTrailers, st
		default:
			b.kind = blkBadTrailers
		}
	} else if id <= c.maxSeen {
		b.kind = blkClosed
	} else {
		c.maxSeen = id
		switch {
		case f.HasPriority() && f.Priority.StreamDep == id:
			b.kind = blkSelfDep
		case c.goingAway:
			b.kind = blkDiscard
		case len(c.streams)+c.orphans >= c.cfg.MaxConcurrentStreams:
			b.kind = blkRefused
		default:
			st := streamPool.Get().(*stream)
			st.id, st.state, st.clen, st.got = id, stOpen, -1, 0
			st.sendWin, st.recvWin = c.peerInitWin, initialWindow
			st.req.reset()
			st.resp.reset()
			c.streams[id] = st
			b.kind, b.st = blkRequest, st
		}
	}
	c.fragment(f.HeaderBlockFragment(), f.HeadersEnded())
}

func (c *conn) continuation(f *http2.ContinuationFrame) {
	c.blk.conts++
	if c.blk.conts > maxContinuations {
		c.fail(http2.ErrCodeEnhanceYourCalm, &c.srv.stat.tooLarge)
		return
	}
	c.fragment(f.HeaderBlockFragment(), f.HeadersEnded())
}

// fragment decodes one piece of the block; the HPACK state must follow
// every block, even one that is refused.
func (c *conn) fragment(p []byte, end bool) {
	b := &c.blk
	b.raw += len(p)
	if b.raw > 2*c.cfg.MaxHeaderBytes {
		c.fail(http2.ErrCodeEnhanceYourCalm, &c.srv.stat.tooLarge) // a flood, not a big request
		return
	}
	if b.raw > c.cfg.MaxHeaderBytes {
		b.tooLarge = true
	}
	if _, err := c.dec.Write(p); err != nil {
		c.fail(http2.ErrCodeCompression, &c.srv.stat.protocolErrors)
		return
	}
	if !end {
		return
	}
	b.active = false
	if err := c.dec.Close(); err != nil {
		c.fail(http2.ErrCodeCompression, &c.srv.stat.protocolErrors)
		return
	}
	c.endBlock()
}

// emit receives each decoded field of the current block.
func (c *conn) emit(hf hpack.HeaderField) {
	b := &c.blk
	b.decoded += int(hf.Size())
	if b.decoded > c.cfg.MaxHeaderBytes {
		b.tooLarge = true
	}
	if b.tooLarge || b.invalid || b.kind != blkRequest {
		return
	}
	r := &b.st.req
	if len(hf.Name) > 0 && hf.Name[0] == ':' {
		if b.sawReg {
			b.invalid = true
			return
		}
		var i int
		switch hf.Name {
		case ":method":
			i = 0
		case ":scheme":
			i = 1
		case ":authority":
			i = 2
		case ":path":
			i = 3
		default:
			b.invalid = true // :status, :protocol, unknown
			return
		}
		if r.has[i] {
			b.invalid = true
			return
		}
		r.has[i] = true
		s := len(r.buf)
		r.buf = append(r.buf, hf.Value...)
		r.pseudo[i] = span{vs: s, ve: len(r.buf)}
		return
	}
	b.sawReg = true
	if !validName(hf.Name) || !httpguts.ValidHeaderFieldValue(hf.Value) {
		b.invalid = true
		return
	}
	switch hf.Name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		b.invalid = true
		return
	case "te":
		if hf.Value != "trailers" {
			b.invalid = true
			return
		}
	case "content-length":
		n, err := strconv.ParseInt(hf.Value, 10, 64)
		if err != nil || n < 0 || (b.st.clen >= 0 && n != b.st.clen) {
			b.invalid = true
			return
		}
		b.st.clen = n
	}
	ns := len(r.buf)
	r.buf = append(r.buf, hf.Name...)
	vs := len(r.buf)
	r.buf = append(r.buf, hf.Value...)
	sp := span{ns, vs, vs, len(r.buf)}
	r.fields = append(r.fields, sp)
	if hf.Name == "host" && !b.hasHost {
		b.hasHost, b.host = true, sp
	}
}

// validName: a token in lower case (RFC 9113 8.2.1).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'A' && ch <= 'Z' || !httpguts.IsTokenRune(rune(ch)) {
			return false
		}
	}
	return true
}

const (
	bodyTooLarge = `{"error":"request header fields too large","status":431}`
	bodyTrailers = `{"error":"trailers are not accepted","status":400}`
	bodyConnect  = `{"error":"method CONNECT is not allowed","status":405}`
)

// endBlock acts on a complete header block. Called with mu held.
func (c *conn) endBlock() {
	b := &c.blk
	switch b.kind {
	case blkClosed:
		c.fail(http2.ErrCodeStreamClosed, &c.srv.stat.protocolErrors)
	case blkHalfClosed:
		c.resetStream(b.id, http2.ErrCodeStreamClosed)
	case blkBadTrailers, blkSelfDep:
		c.resetStream(b.id, http2.ErrCodeProtocol)
	case blkRefused:
		c.refuseStream(b.id, http2.ErrCodeRefusedStream, &c.srv.stat.refused)
	case blkDiscard:
	case blkTrailers:
		st := b.st
		if st.clen >= 0 && st.got != st.clen {
			c.resetStream(b.id, http2.ErrCodeProtocol)
			return
		}
		st.state = stHalfClosed
		st.errStatus, st.errBody = 400, bodyTrailers
		c.dispatch(st)
	case blkRequest:
		c.request()
	}
}

func (c *conn) request() {
	b := &c.blk
	st := b.st
	r := &st.req
	if b.tooLarge {
		c.srv.stat.tooLarge.Add(1)
		st.errStatus, st.errBody = 431, bodyTooLarge
	} else {
		if b.invalid || !r.has[0] {
			c.resetStream(b.id, http2.ErrCodeProtocol)
			return
		}
		r.Method = r.buf[r.pseudo[0].vs:r.pseudo[0].ve]
		if string(r.Method) == "CONNECT" {
			if !r.has[2] || r.has[1] || r.has[3] {
				c.resetStream(b.id, http2.ErrCodeProtocol)
				return
			}
			st.errStatus, st.errBody = 405, bodyConnect
		} else if !r.has[1] || !r.has[3] || r.pseudo[3].ve == r.pseudo[3].vs {
			c.resetStream(b.id, http2.ErrCodeProtocol)
			return
		}
		r.Scheme = r.buf[r.pseudo[1].vs:r.pseudo[1].ve]
		r.Path = r.buf[r.pseudo[3].vs:r.pseudo[3].ve]
		if r.has[2] {
			r.Authority = r.buf[r.pseudo[2].vs:r.pseudo[2].ve]
		} else if b.hasHost {
			r.Authority = r.buf[b.host.vs:b.host.ve]
		}
		st.head = string(r.Method) == "HEAD"
	}
	if !b.endStream {
		return // the body comes in DATA frames; answered at END_STREAM
	}
	if st.clen > 0 {
		c.resetStream(b.id, http2.ErrCodeProtocol) // content-length promised a body
		return
	}
	st.state = stHalfClosed
	c.dispatch(st)
}
