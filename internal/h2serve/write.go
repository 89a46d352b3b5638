package h2serve

import (
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// respond sends st's answer: HEADERS (and CONTINUATION), then the body as
// the windows allow. Called with mu held.
func (c *conn) respond(st *stream) {
	resp := &st.resp
	c.hbuf.Reset()
	c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: statusText(resp.Status)})
	for i := range resp.fields {
		f := &resp.fields[i]
		hf := hpack.HeaderField{Name: f.name, Value: f.value}
		if f.bytes {
			hf.Name = bstr(resp.buf[f.sp.ns:f.sp.ne])
			hf.Value = bstr(resp.buf[f.sp.vs:f.sp.ve])
			hf.Sensitive = true // never indexed: HPACK keeps no reference
		}
		if hasUpper(hf.Name) {
			c.scratch = append(c.scratch[:0], hf.Name...)
			for j, ch := range c.scratch {
				if ch >= 'A' && ch <= 'Z' {
					c.scratch[j] = ch + 'a' - 'A'
				}
			}
			hf.Name, hf.Sensitive = bstr(c.scratch), true
		}
		switch hf.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "content-length":
			continue
		}
		c.enc.WriteField(hf)
	}
	c.scratch = strconv.AppendInt(c.scratch[:0], int64(len(resp.Body)), 10)
	c.enc.WriteField(hpack.HeaderField{Name: "content-length", Value: bstr(c.scratch), Sensitive: true})
	body := resp.Body
	if st.head {
		body = nil
	}
	c.writeHeaders(st.id, c.hbuf.Bytes(), len(body) == 0)
	if len(body) == 0 {
		c.closeStream(st)
		return
	}
	st.body = body
	c.sendQ = append(c.sendQ, st)
	c.pump()
}

func (c *conn) writeHeaders(id uint32, block []byte, endStream bool) {
	first := true
	for first || len(block) > 0 {
		n := min(len(block), c.peerMaxFrame)
		frag := block[:n]
		block = block[n:]
		if first {
			c.fw.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag,
				EndStream: endStream, EndHeaders: len(block) == 0})
			first = false
		} else {
			c.fw.WriteContinuation(id, len(block) == 0, frag)
		}
	}
}

// answerError answers with the server's own JSON error.
func (c *conn) answerError(st *stream) {
	st.resp.reset()
	st.resp.Status = st.errStatus
	st.resp.AddHeader("content-type", "application/json")
	st.resp.AddHeader("cache-control", "no-store")
	st.resp.Body = unsafe.Slice(unsafe.StringData(st.errBody), len(st.errBody))
	c.respond(st)
}

// closeStream ends an answered stream. Called with mu held.
func (c *conn) closeStream(st *stream) {
	delete(c.streams, st.id)
	c.srv.stat.streams.Add(1)
	freeStream(st)
}

// pump sends queued bodies as far as the windows allow, in order. Called
// with mu held.
func (c *conn) pump() {
	sent := false
	defer func() {
		switch {
		case len(c.sendQ) == 0:
			c.stalled = time.Time{}
		case sent || c.stalled.IsZero():
			c.stalled = time.Now() // waiting for the peer's window from now
		}
	}()
	for i := 0; i < len(c.sendQ) && c.connSendWin > 0 && !c.stop; {
		st := c.sendQ[i]
		for len(st.body) > 0 && st.sendWin > 0 && c.connSendWin > 0 {
			sent = true
			n := min(int64(len(st.body)), st.sendWin, c.connSendWin, int64(c.peerMaxFrame))
			end := n == int64(len(st.body))
			c.fw.WriteData(st.id, end, st.body[:n])
			st.body = st.body[n:]
			st.sendWin -= n
			c.connSendWin -= n
			if c.wbuf.Len() >= c.cfg.MaxUnsentBytes {
				c.flushLocked() // blocks: reading waits for the peer to take it
				if c.broken {
					return
				}
			}
		}
		if len(st.body) == 0 {
			c.sendQ = append(c.sendQ[:i], c.sendQ[i+1:]...)
			c.closeStream(st)
			continue
		}
		i++
	}
}

// flushLocked writes out everything pending with one Write. Called with
// mu held.
func (c *conn) flushLocked() {
	if c.broken {
		c.wbuf.Reset()
		return
	}
	if c.recvUnacked > 0 {
		c.fw.WriteWindowUpdate(0, uint32(c.recvUnacked))
		c.recvWin += c.recvUnacked
		c.recvUnacked = 0
	}
	if c.wbuf.Len() == 0 {
		return
	}
	now := time.Now()
	if c.wdl.IsZero() || c.wdl.Sub(now) < c.cfg.WriteTimeout/2 {
		c.wdl = now.Add(c.cfg.WriteTimeout)
		c.nc.SetWriteDeadline(c.wdl)
	}
	if _, err := c.nc.Write(c.wbuf.Bytes()); err != nil {
		c.broken, c.stop = true, true
		c.nc.Close()
	}
	c.wbuf.Reset()
}

func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

func statusText(code int) string {
	switch code {
	case 0, 200:
		return "200"
	case 204:
		return "204"
	case 206:
		return "206"
	case 301:
		return "301"
	case 302:
		return "302"
	case 304:
		return "304"
	case 307:
		return "307"
	case 308:
		return "308"
	case 400:
		return "400"
	case 403:
		return "403"
	case 404:
		return "404"
	case 405:
		return "405"
	case 413:
		return "413"
	case 429:
		return "429"
	case 431:
		return "431"
	case 500:
		return "500"
	case 502:
		return "502"
	case 503:
		return "503"
	case 504:
		return "504"
	}
	return strconv.Itoa(code)
}
