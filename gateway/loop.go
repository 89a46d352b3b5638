package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/edgegate/edgegate/accesslog"
	"github.com/edgegate/edgegate/internal/evloop"
)

// startLoops starts the event loops that answer /r/, or returns nil when
// they are off or unavailable here (fasthttp then serves everything).
func (s *Server) startLoops() (*evloop.Server, error) {
	if s.cfg.EventLoops < 0 || (s.plainRedirect && s.tls == nil) {
		return nil, nil
	}
	loops, err := evloop.New(loopHandler{s}, evloop.Config{
		Loops:        s.cfg.EventLoops,
		ReadTimeout:  s.cfg.ReadTimeout,
		WriteTimeout: s.cfg.WriteTimeout,
		IdleTimeout:  s.public.IdleTimeout,
		Limits:       s.conns.lim,
		// The pipelined answers a client that does not read may pile up.
		MaxOutputBytes: s.cfg.MaxUnsentBytes,
		BadRequest:     notHTTPAnswer(),
	})
	if errors.Is(err, evloop.ErrUnsupported) {
		s.log.Info("event loops unavailable here; fasthttp serves every request")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: event loops: %w", err)
	}
	s.loops.Store(loops)
	return loops, nil
}

// notHTTPAnswer is the loops' answer to bytes that cannot start an HTTP
// request (a TLS handshake on the plain port, binary garbage), after which
// they close the connection.
func notHTTPAnswer() string {
	body := errorJSON(errorf(http.StatusBadRequest, msgNotHTTP))
	return "HTTP/1.1 400 Bad Request\r\nServer: edgegate\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n" +
		"Connection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
}

// loopStats reads the event loops' counters (zero without loops).
func (s *Server) loopStats() evloop.Stats {
	if l := s.loops.Load(); l != nil {
		return l.Stats()
	}
	return evloop.Stats{}
}

// loopHandler answers /r/ on the event loops (see internal/evloop): from
// memory on the loop, or off-loop when an existence check must ask S3.
// Every other path goes to fasthttp with its connection.
type loopHandler struct{ s *Server }

func (h loopHandler) Serve(dst []byte, r *evloop.Request) ([]byte, evloop.Verdict) {
	if !bytes.HasPrefix(r.Path, prefixRoute) || !r.HasHost() {
		// Without Host fasthttp answers 400, as HTTP/1.1 requires.
		return dst, evloop.Handoff
	}
	return h.s.serveLoopRoute(dst, r, true)
}

func (h loopHandler) ServeBlocking(dst []byte, r *evloop.Request) []byte {
	defer h.s.offLoop.Add(-1) // taken when Serve said Block
	dst, _ = h.s.serveLoopRoute(dst, r, false)
	return dst
}

func (s *Server) serveLoopRoute(dst []byte, r *evloop.Request, noWait bool) ([]byte, evloop.Verdict) {
	start := time.Now()
	sc := s.scratch.Get().(*scratch)
	defer s.scratch.Put(sc)
	sc.hdrs.loadLoop(r)
	defer sc.hdrs.reset(nil) // keep no request memory in the pool (a copy in the join buffer is ours)
	in := routeIn{method: r.Method, rawKey: r.Path[len(prefixRoute):], peer: r.Peer, noWait: noWait}
	f := s.loopFacts(sc, r, &in)
	var found bool
	sc.format, _ = r.Arg(sc.format, "format")
	in.wantJSON = bytes.Equal(sc.format, strJSONFormat) || bytes.Contains(sc.hdrs.accept, strJSON)
	if sc.region, found = r.Arg(sc.region, "region"); found {
		in.region = sc.region
		if in.region == nil { // "?region=": present and empty, not absent
			in.region = []byte{}
		}
	}
	out, blocked := s.route(sc, &in)
	if blocked {
		// Each blocked request costs a goroutine: bounded, shed at once
		// past exists.max_waiting (S3 calls have their own bound).
		if s.offLoop.Add(1) <= int64(s.cfg.Exists.MaxWaiting) {
			return dst, evloop.Block
		}
		s.offLoop.Add(-1)
		s.metrics.offLoopShed.Inc()
		out = routeOut{status: errTooManyWaiting.Status, err: errTooManyWaiting}
	}
	if f != nil {
		out.rid = f.rid
	}
	dst = s.appendRouteAnswer(dst, &out, r)
	took := time.Since(start)
	s.metrics.observe("route", out.status, took)
	if s.alog.Sampled(out.status, took) { // implies f != nil
		f.decided(&out.dec)
		f.client(s, r.Peer, &sc.hdrs)
		s.logRoute(f, &out, accesslog.H1, r.TLS, r.Method, r.Target, loopPeeker{r}, start, took)
	}
	return dst, evloop.Done
}

// appendRouteAnswer writes out as a whole HTTP/1.1 answer, with the
// headers fasthttp would send for it.
func (s *Server) appendRouteAnswer(dst []byte, out *routeOut, r *evloop.Request) []byte {
	var body []byte
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(out.status), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(out.status)...)
	dst = append(dst, "\r\nServer: edgegate\r\nDate: "...)
	dst = append(dst, s.httpDate()...)
	if s.echoID && out.rid != nil {
		dst = append(dst, "\r\nX-Request-Id: "...)
		dst = append(dst, out.rid...)
	}
	if !r.KeepAlive {
		dst = append(dst, "\r\nConnection: close"...)
	}
	if r.TLS {
		if alt := s.altSvc.Load(); alt != nil {
			dst = append(dst, "\r\nAlt-Svc: "...)
			dst = append(dst, *alt...)
		}
	}
	if out.err != nil {
		body = errorJSON(out.err)
		dst = append(dst, "\r\nContent-Type: application/json\r\nCache-Control: no-store"...)
		if out.err.RetryAfter > 0 {
			dst = append(dst, "\r\nRetry-After: "...)
			dst = strconv.AppendInt(dst, int64(out.err.RetryAfter), 10)
		}
		if out.err.Allow != "" {
			dst = append(dst, "\r\nAllow: "...)
			dst = append(dst, out.err.Allow...)
		}
		if out.rules != "" {
			dst = append(dst, "\r\nX-Edge-Rules: "...)
			dst = append(dst, out.rules...)
		}
	} else {
		body = out.body
		if body != nil {
			dst = append(dst, "\r\nContent-Type: application/json"...)
		}
		dst = append(dst, "\r\nX-Edge-Rules: "...)
		dst = append(dst, out.rules...)
		dst = append(dst, "\r\nCache-Control: "...)
		dst = append(dst, out.cache...)
		dst = append(dst, "\r\nVary: "...)
		dst = append(dst, out.vary...)
		if out.loc != "" {
			dst = append(dst, "\r\nLocation: "...)
			dst = append(dst, out.loc...)
		}
	}
	dst = append(dst, "\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	if !r.IsHead() {
		dst = append(dst, body...)
		out.bodyLen = len(body)
	}
	return dst
}

// httpDate is the Date header value, formatted once a second.
func (s *Server) httpDate() []byte {
	now := s.clock.Now()
	sec := now.Unix()
	if d := s.date.Load(); d != nil && d.sec == sec {
		return d.b
	}
	d := &httpDate{sec: sec, b: now.UTC().AppendFormat(nil, http.TimeFormat)}
	s.date.Store(d)
	return d.b
}

type httpDate struct {
	sec int64
	b   []byte
}

// Takes implements evloop.Taker: the loops answer /r/ only, so a
// connection that starts with anything else goes to fasthttp untouched.
func (h loopHandler) Takes(r *evloop.Request) bool {
	return bytes.HasPrefix(r.Path, prefixRoute) && r.HasHost()
}
