package load

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/edgegate/edgegate/loadtest/internal/scenario"
	"github.com/edgegate/edgegate/loadtest/internal/stats"
)

// RawClient sends plain HTTP/1.1 requests over a fixed pool of keep-alive
// TCP connections, without net/http's Transport and its per-request
// goroutines, channels, request cloning and header maps (on 2 cores
// against a local nginx, at 10k req/s: 57 µs of CPU per request against
// Send's 94 µs, p99 1.5 ms against 29 ms). A request takes a free
// connection (waiting for one if all are busy), writes its request line
// and headers from a buffer the connection reuses, and reads the answer
// with http.ReadResponse on the connection's bufio.Reader, so framing
// (Content-Length, chunked, close-delimited) is net/http's. Connections are
// dialled when needed (see acquire) and dialled again after any error or a
// Connection: close answer.
//
// Results match Send's: the same fields and the same error causes.
// Only http:// targets are supported. Safe for concurrent use.
type RawClient struct {
	addr   string // host:port to dial
	host   string // Host header value
	prefix string // the base URL's path, escaped, without a trailing slash
	auth   string // "Authorization: Basic ...\r\n" from the base's userinfo, or ""
	cfg    RawConfig
	// The pool: slots are made when needed, up to cfg.Conns. free holds
	// the free ones, with a connection or without (closed after an error
	// or Connection: close: dialled again when taken).
	free    chan *rawConn
	made    atomic.Int64  // slots made
	inUse   atomic.Int64  // slots taken by requests
	growing chan struct{} // a token per new slot being dialled
	// A token bucket for making new slots (see acquire).
	mu       sync.Mutex
	tokens   float64
	refilled time.Time
}

// RawConfig configures a RawClient.
type RawConfig struct {
	// Conns is the most connections; > 0.
	Conns int
	// Timeout bounds each request: the wait for a free connection,
	// dialling, writing and reading the whole answer; > 0.
	Timeout time.Duration
	// Eager dials a new connection whenever a request finds none free,
	// up to Conns, without the open loop's limit on how fast the pool
	// grows (see acquire): for a closed loop of Conns workers, which
	// should all be sending from the start.
	Eager bool
}

// rawConn is one slot of the pool: a connection (nil until dialled) and
// its buffers. It belongs to one request at a time.
type rawConn struct {
	c    net.Conn
	br   *bufio.Reader
	wbuf []byte
	req  http.Request // the Method ReadResponse needs (HEAD has no body)
	// growing: the slot is new and holds a growing token until dialled.
	growing bool
	// watched is the context whose cancellation ends c's blocked reads and
	// writes (a deadline in the past); unwatch stops that. Registered once
	// per connection and context, not per request.
	watched context.Context
	unwatch func() bool
}

const (
	rawDialTimeout = 5 * time.Second
	rawKeepAlive   = 30 * time.Second
	rawUserAgent   = "Go-http-client/1.1" // what net/http sends: the target sees the same requests
	// New connections being dialled at once: thousands of simultaneous
	// connects overflow the server's accept queue (SYNs retried after 1 s).
	rawMaxGrowing = 64
	// Up to rawGrowBurst connections are dialled as soon as they are
	// needed, more at rawGrowRate per second (see acquire).
	rawGrowBurst = 64
	rawGrowRate  = 100
)

// NewRawClient returns a RawClient for base, an http:// URL whose path, if
// any, prefixes every request path.
func NewRawClient(base *url.URL, cfg RawConfig) (*RawClient, error) {
	if base.Scheme != "http" {
		return nil, fmt.Errorf("load: raw client: %q: only http:// targets are supported", base.String())
	}
	if base.Host == "" {
		return nil, fmt.Errorf("load: raw client: %q has no host", base.String())
	}
	if cfg.Conns <= 0 {
		return nil, errors.New("load: raw client: conns must be > 0")
	}
	if cfg.Timeout <= 0 {
		return nil, errors.New("load: raw client: timeout must be > 0")
	}
	port := base.Port()
	if port == "" {
		port = "80"
	}
	c := &RawClient{
		addr:    net.JoinHostPort(base.Hostname(), port),
		host:    base.Host,
		cfg:     cfg,
		free:    make(chan *rawConn, cfg.Conns),
		growing: make(chan struct{}, min(cfg.Conns, rawMaxGrowing)),
		tokens:  rawGrowBurst,
	}
	c.refilled = time.Now()
	if p := base.EscapedPath(); p != "/" {
		c.prefix = p
	}
	// As net/http: the port is dropped from Host when it is empty ("h:").
	if h, p, err := net.SplitHostPort(c.host); err == nil && p == "" {
		c.host = h
	}
	if u := base.User; u != nil {
		pw, _ := u.Password()
		c.auth = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)) + "\r\n"
	}
	if !validToken(c.host) || !validPath(c.prefix) {
		return nil, fmt.Errorf("load: raw client: %q: invalid characters in host or path", base.String())
	}
	return c, nil
}

// Send performs t and returns its result; latency runs from intended, and
// includes any wait for a free connection.
func (c *RawClient) Send(ctx context.Context, t scenario.Target, intended time.Time) stats.Result {
	res := stats.Result{Name: t.Name, Location: t.Location}
	method := t.Method
	if method == "" {
		method = http.MethodGet
	}
	if !validToken(method) || !validPath(t.Path) || !validHeader(t.Header) {
		res.Cause = CauseBadTarget
		return res
	}
	sent := time.Now()
	deadline := sent.Add(c.cfg.Timeout)
	rc, err := c.acquire(ctx, deadline)
	if err == nil {
		err = c.exchange(ctx, rc, method, t, deadline, &res)
		c.release(rc)
	}
	end := time.Now()
	res.Latency, res.Service = end.Sub(intended), end.Sub(sent)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			err = cerr // the deadline poke of a cancelled request
		}
		if res.Status != 0 {
			res.Cause = CauseBodyRead
		} else {
			res.Cause = Classify(err)
		}
	}
	return res
}

// Close closes the pool's free connections. Call it when no Send is in
// flight.
func (c *RawClient) Close() error {
	for range len(c.free) {
		select {
		case rc := <-c.free:
			rc.close()
			c.free <- rc
		default:
			return nil
		}
	}
	return nil
}

// acquire returns a free slot of the pool, waiting for one if need be.
//
// When none is free, a new connection is dialled if fewer than Conns are
// made, at most cap(growing) at once, and, unless Eager, only while the
// token bucket allows it (rawGrowBurst at once, then rawGrowRate a second;
// or when no connection is busy, as none would come free). Otherwise the
// request waits for a busy connection to come free. Dialling whenever none
// is free snowballs at high rates: a short stall queues requests, their
// dials cost the client and the server more than requests do, more
// requests queue. At 22k req/s against nginx on 2 cores (--conns 4096),
// 1400-2000 connections were opened in the first second, and the run was
// 100-300 ms late for a second or two; with the bucket it stayed on time
// over fewer than 200. A slow server that needs many more connections
// gets them at rawGrowRate a second, the wait counted in the latency.
func (c *RawClient) acquire(ctx context.Context, deadline time.Time) (*rawConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select { // the common case: no timer
	case rc := <-c.free:
		c.inUse.Add(1)
		return rc, nil
	default:
	}
	var grow chan struct{} // nil: wait for a free slot
	if c.made.Load() < int64(c.cfg.Conns) && (c.cfg.Eager || c.inUse.Load() == 0 || c.takeToken()) {
		grow = c.growing
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case rc := <-c.free:
			c.inUse.Add(1)
			return rc, nil
		case grow <- struct{}{}:
			if c.made.Add(1) <= int64(c.cfg.Conns) {
				c.inUse.Add(1)
				return &rawConn{growing: true}, nil
			}
			c.made.Add(-1) // every slot is made
			<-c.growing
			grow = nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, os.ErrDeadlineExceeded
		}
	}
}

// takeToken takes a token from the bucket that paces new connections.
func (c *RawClient) takeToken() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.tokens = min(rawGrowBurst, c.tokens+now.Sub(c.refilled).Seconds()*rawGrowRate)
	c.refilled = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

func (c *RawClient) release(rc *rawConn) {
	c.inUse.Add(-1)
	c.free <- rc
}

// exchange sends t on rc and reads the answer into res. A request on a
// reused connection that the server had closed (nothing at all read back)
// is sent once more on a new connection, as net/http does for idempotent
// requests. On error rc is closed.
func (c *RawClient) exchange(ctx context.Context, rc *rawConn, method string, t scenario.Target, deadline time.Time, res *stats.Result) error {
	retry := method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
	for {
		reused := rc.c != nil
		if !reused {
			err := c.dial(ctx, rc, deadline)
			if rc.growing {
				rc.growing = false
				<-c.growing
			}
			if err != nil {
				return err
			}
		}
		err := c.attempt(ctx, rc, method, t, deadline, res)
		if err == nil {
			return nil
		}
		rc.close()
		if errors.Is(err, errStale) && reused && retry {
			continue
		}
		if errors.Is(err, errStale) {
			err = errors.Unwrap(err)
		}
		return err
	}
}

// errStale wraps an error that came before any byte of the answer: on a
// reused connection, the server had closed it while it was idle.
var errStale = errors.New("load: connection closed before the answer")

type staleError struct{ err error }

func (e staleError) Error() string        { return e.err.Error() }
func (e staleError) Unwrap() error        { return e.err }
func (e staleError) Is(target error) bool { return target == errStale }

func (c *RawClient) dial(ctx context.Context, rc *rawConn, deadline time.Time) error {
	d := net.Dialer{Timeout: rawDialTimeout, Deadline: deadline, KeepAlive: rawKeepAlive}
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	rc.c = conn
	if rc.br == nil {
		rc.br = bufio.NewReader(conn)
		rc.wbuf = make([]byte, 0, 512)
	} else {
		rc.br.Reset(conn)
	}
	return nil
}

// attempt writes the request and reads the whole answer. On success the
// connection is left open unless the answer asked to close it.
func (c *RawClient) attempt(ctx context.Context, rc *rawConn, method string, t scenario.Target, deadline time.Time, res *stats.Result) error {
	conn := rc.c
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	rc.watch(ctx)
	if err := ctx.Err(); err != nil { // cancelled before SetDeadline: its poke was overwritten
		return err
	}
	b := append(rc.wbuf[:0], method...)
	b = append(b, ' ')
	if c.prefix == "" && (t.Path == "" || t.Path[0] != '/') {
		b = append(b, '/') // as net/http: base + "" or "?q" asks for "/"
	}
	b = append(b, c.prefix...)
	b = append(b, t.Path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.host...)
	b = append(b, "\r\n"...)
	if _, ok := t.Header["User-Agent"]; !ok {
		b = append(b, "User-Agent: "+rawUserAgent+"\r\n"...)
	}
	if _, ok := t.Header["Authorization"]; !ok {
		b = append(b, c.auth...)
	}
	for k, vs := range t.Header {
		if k == "Host" { // as net/http, which takes Host from the URL
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		b = append(b, "Content-Length: 0\r\n"...)
	}
	b = append(b, "\r\n"...)
	rc.wbuf = b
	if _, err := conn.Write(b); err != nil {
		return staleError{err}
	}
	if _, err := rc.br.Peek(1); err != nil {
		if isStale(err) {
			return staleError{err}
		}
		return err
	}
	rc.req.Method = method
	var resp *http.Response
	for {
		var err error
		if resp, err = http.ReadResponse(rc.br, &rc.req); err != nil {
			return err
		}
		// 1xx answers (103 Early Hints) come before the real one.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	res.Status = resp.StatusCode
	res.XCache = resp.Header.Get("X-Cache")
	n, err := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	res.Bytes = n
	if err != nil {
		return err
	}
	if resp.Close || resp.StatusCode == http.StatusSwitchingProtocols {
		rc.close()
	}
	return nil
}

// isStale tells whether err, met before any byte of the answer, means the
// server had closed the connection.
func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// watch makes cancelling ctx end rc's blocked reads and writes at once.
func (rc *rawConn) watch(ctx context.Context) {
	if ctx.Done() == nil || rc.watched == ctx {
		return
	}
	if rc.unwatch != nil {
		rc.unwatch()
	}
	conn := rc.c
	rc.watched = ctx
	rc.unwatch = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
}

func (rc *rawConn) close() {
	if rc.unwatch != nil {
		rc.unwatch()
		rc.watched, rc.unwatch = nil, nil
	}
	if rc.c != nil {
		_ = rc.c.Close()
		rc.c = nil
	}
}

// validToken: not empty, no control bytes, spaces or DEL (method, host).
func validToken(s string) bool { return s != "" && validPath(s) }

// validPath: no control bytes, spaces or DEL (an escaped path and query).
func validPath(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// validHeader: names are tokens without a colon, values have no CR, LF or
// NUL.
func validHeader(h http.Header) bool {
	for k, vs := range h {
		if !validToken(k) || strings.IndexByte(k, ':') >= 0 {
			return false
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				return false
			}
		}
	}
	return true
}
