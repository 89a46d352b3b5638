package h2serve

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const (
	prefaceLen    = len(http2.ClientPreface)
	maxReadFrame  = 16384 // our SETTINGS_MAX_FRAME_SIZE: the default
	initialWindow = 65535 // both ways until SETTINGS say otherwise
	maxWindow     = 1<<31 - 1
	// maxContinuations bounds the CONTINUATION frames of one header block
	// (empty ones cost the server a frame each and the client 9 bytes).
	maxContinuations = 32
)

// stream states, as the server sees them.
const (
	stOpen       uint8 = iota // HEADERS received, the request's body is coming
	stHalfClosed              // END_STREAM received: answering
)

type stream struct {
	id      uint32
	state   uint8
	head    bool
	slow    bool // Slow is running
	reset   bool // reset (or the connection ended) while Slow ran
	sendWin int64
	recvWin int64
	body    []byte // still to send
	clen    int64  // declared content-length, -1 if none
	got     int64  // request body bytes received
	// errStatus, when set, is the answer instead of the Handler's.
	errStatus int
	errBody   string
	req       Request
	resp      Response
}

// conn is one HTTP/2 connection. Its goroutine (serve) reads; everything
// else happens under mu, by that goroutine or by a finishing Slow handler.
type conn struct {
	srv  *Server
	cfg  *Config
	nc   net.Conn
	tls  *tls.ConnectionState
	peer netip.AddrPort
	br   *bufio.Reader
	fr   *http2.Framer // reads
	dec  *hpack.Decoder

	woken    atomic.Bool
	deadline time.Time // the read deadline set
	wdl      time.Time // the write deadline set

	mu           sync.Mutex
	closed       bool
	stop         bool // the reader should end
	broken       bool // a write failed
	gotSettings  bool
	goingAway    bool
	peerGoAway   bool
	wbuf         bytes.Buffer
	fw           *http2.Framer // writes to wbuf
	enc          *hpack.Encoder
	hbuf         bytes.Buffer
	scratch      []byte
	streams      map[uint32]*stream
	sendQ        []*stream
	maxSeen      uint32
	slowRunning  int
	flushQueued  bool      // a finished Slow handler will flush shortly
	stalled      time.Time // since when answers wait for a window, if they do
	orphans      int       // reset streams whose Slow still runs: they keep a slot
	connSendWin  int64
	peerInitWin  int64
	peerMaxFrame int
	recvWin      int64
	recvUnacked  int64
	resets       budget
	controls     budget
	lastFrame    time.Time
	blk          block
	slowDone     chan struct{} // closed when the connection ends
}

var streamPool = sync.Pool{New: func() any { return new(stream) }}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, cfg: &s.cfg, nc: nc,
		br:      bufio.NewReaderSize(nc, 9+maxReadFrame),
		streams: make(map[uint32]*stream), connSendWin: initialWindow, peerInitWin: initialWindow,
		peerMaxFrame: 16384, recvWin: initialWindow, slowDone: make(chan struct{})}
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		c.peer = ap
	}
	c.fr = http2.NewFramer(nil, c.br)
	c.fr.SetMaxReadFrameSize(maxReadFrame)
	c.fw = http2.NewFramer(&c.wbuf, nil)
	c.enc = hpack.NewEncoder(&c.hbuf)
	c.dec = hpack.NewDecoder(4096, c.emit)
	c.dec.SetMaxStringLength(2 * s.cfg.MaxHeaderBytes)
	c.resets.max = s.cfg.ResetBudget
	c.controls.max = s.cfg.ControlBudget
	return c
}

// wake interrupts the reader (Shutdown; a Slow answer that lets a
// draining connection end). Safe for concurrent use.
func (c *conn) wake() {
	c.woken.Store(true)
	c.nc.SetReadDeadline(time.Unix(1, 0))
}

func (c *conn) serve() {
	defer c.finish()
	start := time.Now()
	c.lastFrame = start
	c.mu.Lock()
	c.fw.WriteSettings(
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: uint32(c.cfg.MaxConcurrentStreams)},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: uint32(c.cfg.MaxHeaderBytes)},
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
	)
	c.flushLocked()
	c.mu.Unlock()

	p, ok := c.need(prefaceLen, start.Add(c.cfg.HandshakeTimeout))
	if !ok {
		return
	}
	if string(p) != http2.ClientPreface {
		c.fail(http2.ErrCodeProtocol, &c.srv.stat.protocolErrors)
		return
	}
	c.br.Discard(prefaceLen)
	for {
		var by time.Time
		if !c.gotSettings {
			by = start.Add(c.cfg.HandshakeTimeout)
		} else if c.blk.active { // only this goroutine writes blk
			by = c.blk.start.Add(c.cfg.ReadTimeout)
		}
		hdr, ok := c.need(9, by)
		if !ok {
			return
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		if n > maxReadFrame {
			c.fail(http2.ErrCodeFrameSize, &c.srv.stat.protocolErrors)
			return
		}
		if c.br.Buffered() < 9+n {
			if by.IsZero() {
				by = time.Now().Add(c.cfg.ReadTimeout)
			}
			if _, ok := c.need(9+n, by); !ok {
				return
			}
		}
		f, err := c.fr.ReadFrame()
		c.mu.Lock()
		c.lastFrame = time.Now()
		if err != nil {
			c.readError(err)
		} else {
			c.frame(f)
		}
		if !c.stalled.IsZero() && c.lastFrame.Sub(c.stalled) >= c.cfg.IdleTimeout {
			// Frames, but never the window the answers wait for.
			c.fail(http2.ErrCodeFlowControl, &c.srv.stat.stalls)
		}
		if !c.stop && c.br.Buffered() == 0 {
			c.flushLocked()
		}
		if c.drained() {
			c.stop = true
		}
		stop := c.stop
		c.mu.Unlock()
		if stop {
			return
		}
	}
}

// drained reports a connection going away with nothing left to answer.
func (c *conn) drained() bool {
	return (c.goingAway || c.peerGoAway) && len(c.streams) == 0 && c.slowRunning == 0
}

// need returns the next n buffered bytes, reading until they are there.
// by, if set, is when they must have arrived; otherwise the idle timeout
// applies. A timeout or a wake is handled here; false means the
// connection is over.
func (c *conn) need(n int, by time.Time) ([]byte, bool) {
	for {
		if c.br.Buffered() >= n {
			b, _ := c.br.Peek(n)
			return b, true
		}
		dl := by
		if dl.IsZero() {
			dl = c.lastFrame.Add(c.cfg.IdleTimeout)
		}
		c.setReadDeadline(dl)
		if c.woken.Load() {
			c.woken.Store(false)
			c.deadline = time.Time{}
			if !c.onTimeout(by) {
				return nil, false
			}
			continue
		}
		b, err := c.br.Peek(n)
		if err == nil {
			return b, true
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			c.mu.Lock()
			c.stop = true
			c.mu.Unlock()
			return nil, false
		}
		c.deadline = time.Time{} // unknown now: set it again
		c.woken.Store(false)
		if !c.onTimeout(by) {
			return nil, false
		}
	}
}

// setReadDeadline moves the read deadline to t unless it is already
// within a second after it (a timer change per frame costs).
func (c *conn) setReadDeadline(t time.Time) {
	if !c.deadline.IsZero() && !c.deadline.Before(t) && c.deadline.Sub(t) < time.Second {
		return
	}
	if !c.deadline.IsZero() && !t.Before(c.deadline) && t.Sub(c.deadline) < time.Second {
		return
	}
	c.deadline = t
	c.nc.SetReadDeadline(t)
}

// onTimeout decides what a passed deadline (or a wake) means; false ends
// the connection.
func (c *conn) onTimeout(by time.Time) bool {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stop || c.broken || c.closed {
		return false
	}
	if c.srv.closing() && !c.goingAway {
		c.goAway(http2.ErrCodeNo)
		c.flushLocked()
	}
	if c.drained() {
		return false
	}
	if !by.IsZero() && !now.Before(by) {
		c.fail(http2.ErrCodeNo, &c.srv.stat.timeouts) // handshake, header block, a frame's bytes
		return false
	}
	if by.IsZero() && !now.Before(c.lastFrame.Add(c.cfg.IdleTimeout)) {
		switch {
		case c.slowRunning > 0:
			c.lastFrame = now // waiting on the server, not the client
		case len(c.sendQ) > 0:
			c.fail(http2.ErrCodeFlowControl, &c.srv.stat.stalls)
			return false
		default:
			c.fail(http2.ErrCodeNo, nil)
			return false
		}
	}
	return true
}

// fail sends GOAWAY with code, counts it in ctr if set, and ends the
// connection. Called with mu held.
func (c *conn) fail(code http2.ErrCode, ctr *atomic.Uint64) {
	if ctr != nil {
		ctr.Add(1)
	}
	if !c.goingAway {
		c.goAway(code)
	}
	c.flushLocked()
	c.stop = true
}

func (c *conn) goAway(code http2.ErrCode) {
	c.goingAway = true
	c.fw.WriteGoAway(c.maxSeen, code, nil)
}

// finish ends the connection: streams not in a Slow handler are freed,
// the socket is drained briefly (so the GOAWAY is not lost to a reset)
// and closed.
func (c *conn) finish() {
	c.mu.Lock()
	c.closed = true
	c.stop = true
	for id, st := range c.streams {
		delete(c.streams, id)
		if st.slow {
			st.reset = true
			c.orphans++
		} else {
			freeStream(st)
		}
	}
	c.sendQ = c.sendQ[:0]
	broken := c.broken
	c.mu.Unlock()
	close(c.slowDone)
	if !broken {
		c.nc.SetReadDeadline(time.Now().Add(time.Second))
		var sink [4096]byte
		for total := 0; total < 256<<10; {
			n, err := c.nc.Read(sink[:])
			total += n
			if err != nil {
				break
			}
		}
	}
	c.nc.Close()
}

func freeStream(st *stream) {
	st.req.reset()
	st.resp.reset()
	st.body = nil
	st.slow, st.reset, st.head = false, false, false
	st.errStatus, st.errBody = 0, ""
	streamPool.Put(st)
}

// readError handles an error from the Framer. Called with mu held.
func (c *conn) readError(err error) {
	var ce http2.ConnectionError
	var se http2.StreamError
	switch {
	case errors.As(err, &se):
		c.resetStream(se.StreamID, se.Code)
	case errors.As(err, &ce):
		c.fail(http2.ErrCode(ce), &c.srv.stat.protocolErrors)
	case errors.Is(err, http2.ErrFrameTooLarge):
		c.fail(http2.ErrCodeFrameSize, &c.srv.stat.protocolErrors)
	default:
		c.fail(http2.ErrCodeProtocol, &c.srv.stat.protocolErrors)
	}
}

// resetStream sends RST_STREAM (a stream error) and forgets the stream.
func (c *conn) resetStream(id uint32, code http2.ErrCode) {
	c.refuseStream(id, code, &c.srv.stat.streamErrors)
}

// refuseStream is resetStream counted in ctr.
func (c *conn) refuseStream(id uint32, code http2.ErrCode, ctr *atomic.Uint64) {
	ctr.Add(1)
	c.fw.WriteRSTStream(id, code)
	c.dropStream(id)
	if !c.resets.spend(c.lastFrame, c.cfg.BudgetWindow) {
		c.fail(http2.ErrCodeEnhanceYourCalm, &c.srv.stat.resetFloods)
	}
}

// dropStream forgets a stream (reset by either side).
func (c *conn) dropStream(id uint32) {
	st := c.streams[id]
	if st == nil {
		return
	}
	delete(c.streams, id)
	c.unqueue(st)
	if st.slow {
		st.reset = true
		c.orphans++
		return
	}
	freeStream(st)
}

func (c *conn) unqueue(st *stream) {
	for i, q := range c.sendQ {
		if q == st {
			c.sendQ = append(c.sendQ[:i], c.sendQ[i+1:]...)
			return
		}
	}
}

// control spends the control-frame budget; false: the connection ends.
func (c *conn) control() bool {
	if c.controls.spend(c.lastFrame, c.cfg.BudgetWindow) {
		return true
	}
	c.fail(http2.ErrCodeEnhanceYourCalm, &c.srv.stat.controlFloods)
	return false
}

// frame handles one frame. Called with mu held.
func (c *conn) frame(f http2.Frame) {
	if !c.gotSettings {
		sf, ok := f.(*http2.SettingsFrame)
		if !ok || sf.IsAck() {
			c.fail(http2.ErrCodeProtocol, &c.srv.stat.protocolErrors)
			return
		}
		c.gotSettings = true
	}
	switch f := f.(type) {
	case *http2.HeadersFrame:
		c.headers(f)
	case *http2.ContinuationFrame:
		c.continuation(f)
	case *http2.DataFrame:
		c.data(f)
	case *http2.SettingsFrame:
		c.settings(f)
	case *http2.PingFrame:
		if f.IsAck() {
			return
		}
		if c.control() {
			c.fw.WritePing(true, f.Data)
		}
	case *http2.WindowUpdateFrame:
		c.windowUpdate(f)
	case *http2.RSTStreamFrame:
		c.rstStream(f)
	case *http2.PriorityFrame:
		if !c.control() {
			return
		}
		if f.StreamDep == f.StreamID {
			c.resetStream(f.StreamID, http2.ErrCodeProtocol)
		}
	case *http2.GoAwayFrame:
		c.peerGoAway = true
	case *http2.PushPromiseFrame:
		c.fail(http2.ErrCodeProtocol, &c.srv.stat.protocolErrors)
	default:
		c.control() // unknown types are ignored, and budgeted
	}
}

func (c *conn) settings(f *http2.SettingsFrame) {
	if f.IsAck() {
		return
	}
	if !c.control() {
		return
	}
	for i := range f.NumSettings() {
		s := f.Setting(i)
		if err := s.Valid(); err != nil {
			var ce http2.ConnectionError
			code := http2.ErrCodeProtocol
			if errors.As(err, &ce) {
				code = http2.ErrCode(ce)
			}
			c.fail(code, &c.srv.stat.protocolErrors)
			return
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			c.enc.SetMaxDynamicTableSizeLimit(s.Val)
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - c.peerInitWin
			c.peerInitWin = int64(s.Val)
			for _, st := range c.streams {
				st.sendWin += delta
				if st.sendWin > maxWindow {
					c.fail(http2.ErrCodeFlowControl, &c.srv.stat.protocolErrors)
					return
				}
			}
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = int(s.Val)
		}
	}
	c.fw.WriteSettingsAck()
	c.pump()
}

func (c *conn) windowUpdate(f *http2.WindowUpdateFrame) {
	if f.StreamID == 0 {
		c.connSendWin += int64(f.Increment)
		if c.connSendWin > maxWindow {
			c.fail(http2.ErrCodeFlowControl, &c.srv.stat.protocolErrors)
			return
		}
		c.pump()
		return
	}
	st := c.streams[f.StreamID]
	if st == nil {
		if f.StreamID > c.maxSeen {
			c.fail(http2.ErrCodeProtocol, &c.srv.stat.protocolErrors) // idle stream
		}
		return
	}
	st.sendWin += int64(f.Increment)
	if st.sendWin > maxWindow {
		c.resetStream(f.StreamID, http2.ErrCodeFlowControl)
		return
	}
	c.pump()
}

func (c *conn) rstStream(f *http2.RSTStreamFrame) {
	if f.StreamID > c.maxSeen {
		c.fail(http2.ErrCodeProtocol, &c.srv.stat.protocolErrors) // idle stream
		return
	}
	c.dropStream(f.StreamID)
	if !c.resets.spend(c.lastFrame, c.cfg.BudgetWindow) {
		c.fail(http2.ErrCodeEnhanceYourCalm, &c.srv.stat.resetFloods)
	}
}

func (c *conn) data(f *http2.DataFrame) {
	n := int64(f.Header().Length) // padding included
	if n > c.recvWin {
		c.fail(http2.ErrCodeFlowControl, &c.srv.stat.protocolErrors)
		return
	}
	c.recvWin -= n
	c.recvUnacked += n
	if c.recvUnacked >= initialWindow/2 {
		c.fw.WriteWindowUpdate(0, uint32(c.recvUnacked))
		c.recvWin += c.recvUnacked
		c.recvUnacked = 0
	}
	st := c.streams[f.StreamID]
	if st == nil {
		if f.StreamID > c.maxSeen {
			c.fail(http2.ErrCodeProtocol, &c.srv.stat.protocolErrors) // idle stream
			return
		}
		c.resetStream(f.StreamID, http2.ErrCodeStreamClosed)
		return
	}
	if st.state != stOpen {
		c.resetStream(f.StreamID, http2.ErrCodeStreamClosed)
		return
	}
	if n > st.recvWin {
		c.resetStream(f.StreamID, http2.ErrCodeFlowControl)
		return
	}
	st.recvWin -= n
	st.got += int64(len(f.Data()))
	if st.clen >= 0 && st.got > st.clen {
		c.resetStream(f.StreamID, http2.ErrCodeProtocol)
		return
	}
	if !f.StreamEnded() {
		if n == 0 && !c.control() {
			return
		}
		if n > 0 {
			c.fw.WriteWindowUpdate(f.StreamID, uint32(n)) // the body is discarded
			st.recvWin += n
		}
		return
	}
	if st.clen >= 0 && st.got != st.clen {
		c.resetStream(f.StreamID, http2.ErrCodeProtocol)
		return
	}
	st.state = stHalfClosed
	c.dispatch(st)
}

// dispatch answers a complete request: inline with Fast, or on a Slow
// goroutine. Called with mu held.
func (c *conn) dispatch(st *stream) {
	if st.errStatus != 0 {
		c.answerError(st)
		return
	}
	st.req.Peer, st.req.TLS, st.req.StreamID = c.peer, c.tls, st.id
	if c.srv.h.Fast(&st.req, &st.resp) {
		c.respond(st)
		return
	}
	st.resp.reset()
	st.slow = true
	c.slowRunning++
	go c.runSlow(st)
}

func (c *conn) runSlow(st *stream) {
	select {
	case c.srv.sem <- struct{}{}:
		c.srv.h.Slow(&st.req, &st.resp)
		<-c.srv.sem
	case <-c.slowDone:
	}
	c.srv.stat.slow.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slowRunning--
	st.slow = false
	if st.reset {
		c.orphans--
		freeStream(st)
	} else if !c.closed {
		c.respond(st)
		if !c.flushQueued {
			// Batch: let the other answers ready now join this write.
			c.flushQueued = true
			c.mu.Unlock()
			runtime.Gosched()
			c.mu.Lock()
			c.flushQueued = false
			c.flushLocked()
		}
	}
	if c.drained() && !c.closed {
		c.wake()
	}
}
