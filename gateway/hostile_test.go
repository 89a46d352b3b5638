package gateway

// The hostile corpus (testdata/hostile/*.txt) run against the live
// gateway: with the event loops and with fasthttp alone, every case on its
// own connection. Each must get an answer below 500 (an error answer as the
// JSON error body) or, where the case says so, a clean close, within
// hostileCaseTimeout; the gateway must still answer after each family; and
// the two transports must answer alike.
//
// Corpus format, one case a line (blank lines and lines starting with #
// are comments):
//
//	NAME  EXPECT  REQUEST
//
// NAME is unique across the corpus. EXPECT is comma-separated:
//
//	302, 4xx, 400|431   the status (a class, or alternatives)
//	any                 any status below 500
//	close               a close with no answer is right too
//	closes              the server closes the connection after the answers
//	                    (nothing more arrives: no smuggled request answered)
//	n=N                 N pipelined answers (default 1)
//	eof                 the client half-closes after sending
//	untrusted           sent from an untrusted peer (127.0.0.2)
//	loc=TEXT            the answer's Location contains TEXT
//
// REQUEST is the rest of the line, written with Go string escapes (\r\n,
// \x16, \t, \\, \"); ${rep N TEXT} repeats TEXT N times and ${seq N TEXT}
// does too with each %d replaced by the repetition's number (TEXT ends at
// the first }, before escapes are read). A REQUEST that starts with '/' is
// a target: "/r/k X-A: 1\r\n" is GET /r/k HTTP/1.1 with Host: edge.test
// and the header lines after the first space.
//
// A line "differs NAME REASON" lets the transports give NAME different
// statuses of the same class, or one close where the other answers (when
// EXPECT allows the close); the reason says why that is right.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

const (
	// hostileCaseTimeout bounds one case, from dialling to the last answer.
	hostileCaseTimeout = 3 * time.Second
	// hostileParallel cases run at once against each gateway.
	hostileParallel = 8
)

type hostileCase struct {
	family, name, where string
	raw                 []byte
	method              string // for reading the answer (HEAD has no body)
	status              []string
	mayClose            bool
	closes              bool
	answers             int
	eof                 bool
	untrusted           bool
	loc                 string
	differs             string
}

// hostileResult is what a gateway did with one case.
type hostileResult struct {
	statuses []int
	closed   bool   // closed with no answer
	problem  string // what was wrong, if anything
	elapsed  time.Duration
}

// loadHostileCorpus reads testdata/hostile/*.txt and adds the generated
// cases.
func loadHostileCorpus(t *testing.T) []*hostileCase {
	t.Helper()
	files, err := filepath.Glob("testdata/hostile/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	var cases []*hostileCase
	byName := map[string]*hostileCase{}
	differs := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		family := strings.TrimSuffix(filepath.Base(f), ".txt")
		for i, line := range strings.Split(string(b), "\n") {
			where := fmt.Sprintf("%s:%d", f, i+1)
			line = strings.TrimRight(line, " \t\r")
			if line == "" || line[0] == '#' {
				continue
			}
			if rest, ok := strings.CutPrefix(line, "differs "); ok {
				name, reason, _ := strings.Cut(strings.TrimSpace(rest), " ")
				if strings.TrimSpace(reason) == "" {
					t.Fatalf("%s: differs without a reason", where)
				}
				differs[name] = strings.TrimSpace(reason)
				continue
			}
			c, err := parseHostileCase(line)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			c.family, c.where = family, where
			if byName[c.name] != nil {
				t.Fatalf("%s: case %q also at %s", where, c.name, byName[c.name].where)
			}
			byName[c.name] = c
			cases = append(cases, c)
		}
	}
	for _, c := range generatedHostileCases() {
		if byName[c.name] != nil {
			t.Fatalf("generated case %q is also in the corpus", c.name)
		}
		byName[c.name] = c
		cases = append(cases, c)
	}
	for name, reason := range differs {
		c := byName[name]
		if c == nil {
			t.Fatalf("differs: no case %q", name)
		}
		c.differs = reason
	}
	return cases
}

func parseHostileCase(line string) (*hostileCase, error) {
	f := strings.Fields(line)
	if len(f) < 3 {
		return nil, errors.New("want NAME EXPECT REQUEST")
	}
	c := &hostileCase{name: f[0], answers: 1}
	rest := line
	for range 2 { // past NAME and EXPECT
		rest = strings.TrimLeft(rest, " \t")
		rest = rest[strings.IndexAny(rest, " \t"):]
	}
	rest = strings.TrimLeft(rest, " \t")
	for _, tok := range strings.Split(f[1], ",") {
		switch k, v, _ := strings.Cut(tok, "="); k {
		case "any":
			c.status = append(c.status, "1xx", "2xx", "3xx", "4xx")
		case "close":
			c.mayClose = true
		case "closes":
			c.closes = true
		case "eof":
			c.eof = true
		case "untrusted":
			c.untrusted = true
		case "loc":
			c.loc = v
		case "n":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad %q", tok)
			}
			c.answers = n
		default:
			for _, s := range strings.Split(tok, "|") {
				if len(s) != 3 || s[0] < '1' || s[0] > '4' {
					return nil, fmt.Errorf("bad expectation %q (a status of 1xx to 4xx, or a keyword)", s)
				}
				c.status = append(c.status, s)
			}
		}
	}
	if len(c.status) == 0 {
		return nil, errors.New("no expected status")
	}
	raw, err := expandHostile(rest)
	if err != nil {
		return nil, err
	}
	c.raw = raw
	c.method, _, _ = strings.Cut(string(raw), " ")
	return c, nil
}

// expandHostile turns a REQUEST field into the bytes to send.
func expandHostile(s string) ([]byte, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, errors.New("unterminated ${")
		}
		f := strings.SplitN(s[i+2:i+j], " ", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("want ${rep N TEXT} or ${seq N TEXT}, got %q", s[i:i+j+1])
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			return nil, err
		}
		for k := range n {
			switch f[0] {
			case "rep":
				b.WriteString(f[2])
			case "seq":
				b.WriteString(strings.ReplaceAll(f[2], "%d", strconv.Itoa(k)))
			default:
				return nil, fmt.Errorf("unknown ${%s}", f[0])
			}
		}
		s = s[i+j+1:]
	}
	s = b.String()
	if strings.HasPrefix(s, "/") {
		target, hdrs, _ := strings.Cut(s, " ")
		s = "GET " + target + ` HTTP/1.1\r\nHost: edge.test\r\n` + hdrs + `\r\n`
	}
	u, err := strconv.Unquote(`"` + s + `"`)
	if err != nil {
		return nil, fmt.Errorf("escapes: %v", err)
	}
	return []byte(u), nil
}

// generatedHostileCases are deterministic random cases that complement the
// hand-written ones: percent-encoded random keys and regions, random header
// values, random binary.
func generatedHostileCases() []*hostileCase {
	r := rand.New(rand.NewPCG(12, 12))
	pick := func(alphabet []string) string { return alphabet[r.IntN(len(alphabet))] }
	keyParts := []string{"a", "Z", "0", "/", ".", "..", "%2e", "%2f", "%5c", "%00", "%ff", "%c0%af", "%e2%80%ae",
		"%f0%9f%98%80", "~", "-", "_", "%20", "+", "%25", ";", "%3f", "%23", "%0a", "%7f", "map-tiles.zip", "maps"}
	var out []*hostileCase
	add := func(family, name string, raw string, status ...string) *hostileCase {
		method, _, _ := strings.Cut(raw, " ")
		c := &hostileCase{family: family, name: name, where: "generated", raw: []byte(raw), method: method,
			status: status, answers: 1}
		out = append(out, c)
		return c
	}
	anyStatus := []string{"2xx", "3xx", "4xx"}
	get := func(target, hdrs string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: edge.test\r\n" + hdrs + "\r\n"
	}
	for i := range 60 {
		var k strings.Builder
		for range 1 + r.IntN(12) {
			k.WriteString(pick(keyParts))
		}
		prefix := "/r/"
		if i%4 == 3 {
			prefix = "/img/thumbnail/"
		}
		add("keys", fmt.Sprintf("gen-key-%02d", i), get(prefix+k.String(), ""), anyStatus...)
	}
	for i := range 30 {
		var v strings.Builder
		for range 1 + r.IntN(8) {
			v.WriteString(pick([]string{"uk", "-", "london", "%2d", "%00", "%ff", "&", "=", "region", "%26region%3d", "EGYPT", "%c3%a9", "+", "%", "global"}))
		}
		add("regions", fmt.Sprintf("gen-region-%02d", i), get("/r/map-tiles.zip?region="+v.String(), ""), anyStatus...)
	}
	headers := []string{"X-Forwarded-For", "CloudFront-Viewer-Country", "CF-IPCountry", "CloudFront-Viewer-City",
		"Accept", "If-None-Match", "X-Real-IP", "Forwarded"}
	for i := range 30 {
		val := make([]byte, 1+r.IntN(40))
		for j := range val {
			// Printable ASCII, tabs and obs-text: what a header value may
			// hold on the wire.
			switch c := byte(r.IntN(0x100)); {
			case c == '\t' || (c >= ' ' && c != 0x7f):
				val[j] = c
			default:
				val[j] = 'x'
			}
		}
		target := "/r/map-tiles.zip"
		if i%3 == 2 {
			target = "/img/thumbnail/photos/sample.jpg"
		}
		add("headers", fmt.Sprintf("gen-header-%02d", i), get(target, headers[i%len(headers)]+": "+string(val)+"\r\n"), anyStatus...)
	}
	for i := range 20 {
		b := make([]byte, 1+r.IntN(300))
		for j := range b {
			b[j] = byte(r.IntN(0x100))
		}
		// A first byte that cannot start a method (a control or non-ASCII
		// byte, not an empty line's CR or LF): refused at once.
		b[0] = byte(0x80 + r.IntN(0x80))
		if i%2 == 0 {
			b[0] = byte(r.IntN(9)) // 0x00-0x08
		}
		c := add("framing", fmt.Sprintf("gen-binary-%02d", i), string(b), "400")
		c.mayClose, c.method = true, "GET"
	}
	return out
}

// runHostileCase sends c on a fresh connection and reads what comes back.
func runHostileCase(addr string, c *hostileCase) hostileResult {
	start := time.Now()
	var res hostileResult
	d := net.Dialer{Timeout: hostileCaseTimeout}
	if c.untrusted {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		res.problem = "dial: " + err.Error()
		return res
	}
	defer conn.Close()
	conn.SetDeadline(start.Add(hostileCaseTimeout))
	go func() {
		// Written while the answers are read: a pipelined batch can
		// fill both directions' buffers.
		if _, err := conn.Write(c.raw); err != nil {
			return // the server may close first; what it answered is judged below
		}
		if c.eof {
			conn.(*net.TCPConn).CloseWrite()
		}
	}()
	br := bufio.NewReader(conn)
	for len(res.statuses) < c.answers {
		_, err := br.Peek(1)
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(br, &http.Request{Method: c.method})
		}
		if err != nil {
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				res.problem = fmt.Sprintf("no answer %d within %v (a hang)", len(res.statuses)+1, hostileCaseTimeout)
			case len(res.statuses) == 0 && br.Buffered() == 0 &&
				(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
				res.closed = true
				if !c.mayClose {
					res.problem = "closed with no answer: " + err.Error()
				}
			default:
				res.problem = fmt.Sprintf("answer %d unreadable: %v", len(res.statuses)+1, err)
			}
			break
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			res.problem = fmt.Sprintf("answer %d: body: %v", len(res.statuses)+1, err)
			break
		}
		if resp.StatusCode == http.StatusContinue {
			continue
		}
		res.statuses = append(res.statuses, resp.StatusCode)
		if p := judgeHostileAnswer(c, resp, body); p != "" && res.problem == "" {
			res.problem = fmt.Sprintf("answer %d: %s", len(res.statuses), p)
		}
		if resp.Close && len(res.statuses) < c.answers {
			res.problem = fmt.Sprintf("closed after %d of %d answers", len(res.statuses), c.answers)
			break
		}
	}
	if c.closes && res.problem == "" && !res.closed {
		if b, err := br.Peek(1); len(b) > 0 {
			res.problem = fmt.Sprintf("more after %d answers: %q", c.answers, b)
		} else if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			res.problem = fmt.Sprintf("not closed after %d answers: %v", c.answers, err)
		}
	}
	res.elapsed = time.Since(start)
	return res
}

// judgeHostileAnswer says what is wrong with one answer, or "".
func judgeHostileAnswer(c *hostileCase, resp *http.Response, body []byte) string {
	code := resp.StatusCode
	if code >= 500 {
		return fmt.Sprintf("status %d: %.200s", code, body)
	}
	s := strconv.Itoa(code)
	if !slices.ContainsFunc(c.status, func(want string) bool {
		return want == s || (want[1:] == "xx" && want[0] == s[0])
	}) {
		return fmt.Sprintf("status %d, want %s: %.200s", code, strings.Join(c.status, "|"), body)
	}
	if c.loc != "" && !strings.Contains(resp.Header.Get("Location"), c.loc) {
		return fmt.Sprintf("Location %q does not contain %q", resp.Header.Get("Location"), c.loc)
	}
	if code < 400 || c.method == http.MethodHead {
		return ""
	}
	var e errorBody
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		return fmt.Sprintf("error %d with Content-Type %q, want application/json: %.200q", code, ct, body)
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" || e.Status != code {
		return fmt.Sprintf("error %d body %.200q is not {\"error\": ..., \"status\": %d}", code, body, code)
	}
	return ""
}

// hostileGateway is one gateway the corpus runs against.
type hostileGateway struct {
	name string
	g    *testGateway
	res  map[*hostileCase]hostileResult
}

func TestHostileCorpus(t *testing.T) {
	cases := loadHostileCorpus(t)
	families := map[string]int{}
	for _, c := range cases {
		families[c.family]++
	}
	t.Logf("%d cases: %v", len(cases), families)
	if len(cases) < 300 {
		t.Errorf("the corpus has %d cases, want at least 300", len(cases))
	}
	rules := demoRules(t)
	cfg := func(c *Config) {
		// 127.0.0.1 is a trusted proxy (its forwarding and CDN headers
		// are read); 127.0.0.2, the untrusted cases' address, is not.
		c.Geo.TrustedProxies = []string{"127.0.0.1/32"}
	}
	gws := []*hostileGateway{{name: "fasthttp", g: startGateway(t, rules, withGeo(t), withImages(), cfg,
		func(c *Config) { c.EventLoops = -1 })}}
	loops := startGateway(t, rules, withGeo(t), withImages(), cfg)
	get(t, loops.base+"/r/map-tiles.zip") // answered once the loops (if any) are up
	if loops.srv.loops.Load() != nil {
		gws = append(gws, &hostileGateway{name: "loops", g: loops})
	}
	order := slices.Sorted(func(yield func(string) bool) {
		for f := range families {
			if !yield(f) {
				return
			}
		}
	})
	for _, gw := range gws {
		gw.res = map[*hostileCase]hostileResult{}
	}
	var mu sync.Mutex
	for _, family := range order {
		var wg sync.WaitGroup
		for _, gw := range gws {
			u, _ := url.Parse(gw.g.base)
			sem := make(chan struct{}, hostileParallel)
			for _, c := range cases {
				if c.family != family {
					continue
				}
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; wg.Done() }()
					r := runHostileCase(u.Host, c)
					mu.Lock()
					gw.res[c] = r
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		for _, gw := range gws {
			checkHostileAlive(t, gw, family)
		}
	}
	for _, c := range cases {
		for _, gw := range gws {
			if r := gw.res[c]; r.problem != "" {
				t.Errorf("%s %s (%s): %s", gw.name, c.name, c.where, r.problem)
			}
		}
		if len(gws) < 2 {
			continue
		}
		a, b := gws[0].res[c], gws[1].res[c]
		switch {
		case a.problem != "" || b.problem != "":
		case slices.Equal(a.statuses, b.statuses) && a.closed == b.closed:
			if c.differs != "" {
				t.Errorf("%s (%s): listed as differing (%s) but both answer %v", c.name, c.where, c.differs, a.statuses)
			}
		case c.differs == "" || (!a.closed && !b.closed && a.statuses[0]/100 != b.statuses[0]/100):
			// Listed as differing, each answer must still be right on its
			// own (checked above), and two answers of one class.
			t.Errorf("%s (%s): %s %v (closed %v), %s %v (closed %v)", c.name, c.where,
				gws[0].name, a.statuses, a.closed, gws[1].name, b.statuses, b.closed)
		}
	}
}

// checkHostileAlive fails the test when the gateway no longer answers its
// health check or a plain route request.
func checkHostileAlive(t *testing.T, gw *hostileGateway, family string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, u := range []string{gw.g.admin + "/healthz", gw.g.base + "/r/map-tiles.zip?region=uk"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatalf("%s after the %s family: %s: %v", gw.name, family, u, err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s after the %s family: %s: status %d", gw.name, family, u, resp.StatusCode)
		}
	}
}

// Errors fasthttp meets before a handler runs are the same JSON error
// answers as every other, on both transports, and bytes that cannot start a
// request are refused at once without the event loops too (not after
// read_timeout); each refusal is counted.
func TestRequestErrorsJSONAndAtOnce(t *testing.T) {
	rules := demoRules(t)
	loops := startGateway(t, rules)
	plain := startGateway(t, rules, func(c *Config) { c.EventLoops = -1 })
	get(t, loops.base+"/r/map-tiles.zip") // answered once the loops (if any) are up
	const host = "Host: edge.test\r\n"
	for _, tc := range []struct {
		name, req string
		status    int
		reason    string
	}{
		{"TLS ClientHello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, "not_http"},
		{"binary", "\x00\x01binary", 400, "not_http"},
		{"head over 8 KiB", "GET /r/k HTTP/1.1\r\n" + host + "X-Pad: " + strings.Repeat("p", 8300) + "\r\n\r\n", 431, "head_too_large"},
		{"two Content-Lengths", "GET /r/k HTTP/1.1\r\n" + host + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, "malformed"},
		{"body over the limit", "POST /r/k HTTP/1.1\r\n" + host + "Content-Length: 1073741824\r\n\r\n", 413, "body_too_large"},
		{"HTTP/1.1 without Host", "GET /r/k HTTP/1.1\r\n\r\n", 400, "malformed"},
	} {
		for _, g := range []*testGateway{loops, plain} {
			u, _ := url.Parse(g.base)
			c := &hostileCase{name: tc.name, raw: []byte(tc.req), method: "GET", status: []string{strconv.Itoa(tc.status)}, answers: 1}
			// The loops refuse what is not HTTP themselves, and count it
			// apart; the rest goes to fasthttp, which counts it.
			counted := g == plain || tc.reason != "not_http" || g.srv.loops.Load() == nil
			before := testutil.ToFloat64(g.srv.metrics.badRequests.WithLabelValues(tc.reason))
			loopsBefore := g.srv.loopStats().NotHTTP
			r := runHostileCase(u.Host, c)
			if r.problem != "" {
				t.Errorf("%s, event_loops %d: %s", tc.name, g.srv.cfg.EventLoops, r.problem)
				continue
			}
			if r.elapsed > time.Second {
				t.Errorf("%s, event_loops %d: answered after %v, want at once", tc.name, g.srv.cfg.EventLoops, r.elapsed)
			}
			if got := testutil.ToFloat64(g.srv.metrics.badRequests.WithLabelValues(tc.reason)); counted && got != before+1 {
				t.Errorf("%s, event_loops %d: edgegate_bad_requests_total{reason=%q} %v -> %v, want one more",
					tc.name, g.srv.cfg.EventLoops, tc.reason, before, got)
			}
			if got := g.srv.loopStats().NotHTTP; !counted && got != loopsBefore+1 {
				t.Errorf("%s on the loops: edgegate_loop_not_http_total %d -> %d, want one more", tc.name, loopsBefore, got)
			}
		}
	}
	_, body := get(t, loops.admin+"/metrics")
	for _, name := range []string{`edgegate_bad_requests_total{reason="not_http"}`, "edgegate_loop_not_http_total "} {
		if !strings.Contains(string(body), name) {
			t.Errorf("metrics lack %s", name)
		}
	}
}

// What fasthttp logs about a connection it could not serve (a malformed
// request, a client gone) goes to the debug level: hostile traffic must not
// flood the log; edgegate_bad_requests_total counts it.
func TestPublicLogQuietAtInfo(t *testing.T) {
	var buf strings.Builder
	l := publicLogger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	l.Printf("error when serving connection %q: %v", "1.2.3.4:5", errors.New("bad"))
	if buf.Len() != 0 {
		t.Errorf("logged at info level: %q", buf.String())
	}
	buf.Reset()
	l = publicLogger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l.Printf("error when serving connection %q: %v", "1.2.3.4:5", errors.New("bad"))
	if !strings.Contains(buf.String(), "level=DEBUG") || !strings.Contains(buf.String(), "bad") {
		t.Errorf("at debug level: %q", buf.String())
	}
}
