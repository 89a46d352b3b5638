package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/testenv"
)

// served is the real edgegate process of a restart test.
type served struct {
	cmd      *exec.Cmd
	pub, adm string
	logs     *lockedBuffer
	exited   chan error // cmd.Wait's result
}

// startServe runs `edgegate serve` with config (YAML, without the
// listeners) and returns once its admin /healthz answers.
func startServe(t *testing.T, config string) *served {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "edgegate.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &served{pub: freeAddr(t), adm: freeAddr(t), logs: &lockedBuffer{}, exited: make(chan error, 1)}
	p.cmd = exec.Command(os.Args[0], "serve", "--config", cfg, "--listen", p.pub, "--admin-listen", p.adm, "--log-format", "json")
	p.cmd.Env = append(os.Environ(), "EDGEGATE_TEST_RUN_MAIN=1")
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		p.exited <- nil
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + p.adm + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not start: %s", p.logs.String())
		}
	}
	return p
}

// waitLog waits up to d for the logs to hold s.
func (p *served) waitLog(t *testing.T, s string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); !strings.Contains(p.logs.String(), s); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the logs after %v:\n%s", s, d, p.logs.String())
		}
	}
}

// outcome is one request of the load.
type outcome struct {
	what       string // client and path
	start, end time.Time
	status     int
	started    bool // some of the answer arrived
	closed     bool // the answer said Connection: close, not asked to
	err        error
}

// loadTargets are the load's requests and the status each must get.
var loadTargets = []struct {
	path   string
	status int
}{
	{"/r/map-tiles.zip?region=uk-london", http.StatusFound},
	{"/r/maps/world.zip?region=egypt-cairo", http.StatusFound},
	{"/img/thumbnail/photos/sample.jpg", http.StatusOK},
}

// load runs clients against a served process until stop: Go clients
// with keep-alive (and one without), raw connections that pipeline every
// target at once, and the admin's /healthz; it records every request.
type load struct {
	p    *served
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	out  []outcome
}

func (l *load) record(o outcome) {
	l.mu.Lock()
	l.out = append(l.out, o)
	l.mu.Unlock()
}

func (l *load) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// pause after a failed dial: the listener is closed, do not spin.
func (l *load) pause() {
	select {
	case <-l.stop:
	case <-time.After(5 * time.Millisecond):
	}
}

func startLoad(p *served) *load {
	l := &load{p: p, stop: make(chan struct{})}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for i := range 4 {
		tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableKeepAlives: i == 3}
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second, CheckRedirect: noRedirect}
		what := fmt.Sprintf("go client %d (keep-alive %v)", i, i != 3)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer tr.CloseIdleConnections()
			for n := i; !l.stopped(); n++ {
				tg := loadTargets[n%len(loadTargets)]
				o := l.goGet(c, "http://"+p.pub+tg.path)
				o.what = what + " " + tg.path
				if o.err == nil && o.status != tg.status {
					o.err = fmt.Errorf("status %d, want %d", o.status, tg.status)
				}
				l.record(o)
				if o.err != nil && !o.started {
					l.pause()
				}
			}
		}()
	}
	for i := range 3 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for !l.stopped() {
				if !l.pipelined(fmt.Sprintf("raw conn %d", i)) {
					l.pause()
				}
			}
		}()
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		c := &http.Client{Timeout: 10 * time.Second}
		for !l.stopped() {
			o := l.goGet(c, "http://"+p.adm+"/healthz")
			o.what = "admin /healthz"
			if o.err == nil && o.status != http.StatusOK {
				o.err = fmt.Errorf("status %d, want 200", o.status)
			}
			l.record(o)
			l.pause()
		}
	}()
	return l
}

// goGet is one GET through c, the whole answer read.
func (l *load) goGet(c *http.Client, url string) outcome {
	o := outcome{start: time.Now()}
	var mu sync.Mutex
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { mu.Lock(); o.started = true; mu.Unlock() }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err == nil {
		o.status = resp.StatusCode
		tr, _ := c.Transport.(*http.Transport) // nil: http.DefaultTransport, keep-alive
		o.closed = resp.Close && (tr == nil || !tr.DisableKeepAlives)
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	o.err, o.end = err, time.Now()
	return o
}

// pipelined opens a connection and, a few times over, writes every target
// at once and reads the answers. It reports whether it connected.
func (l *load) pipelined(what string) bool {
	c, err := net.DialTimeout("tcp", l.p.pub, 2*time.Second)
	if err != nil {
		l.record(outcome{what: what + " dial", start: time.Now(), end: time.Now(), err: err})
		return false
	}
	defer c.Close()
	br := bufio.NewReader(c)
	var batch strings.Builder
	for _, tg := range loadTargets {
		fmt.Fprintf(&batch, "GET %s HTTP/1.1\r\nHost: edgegate.test\r\n\r\n", tg.path)
	}
	for range 5 {
		start := time.Now()
		c.SetDeadline(start.Add(10 * time.Second))
		if _, err := io.WriteString(c, batch.String()); err != nil {
			l.record(outcome{what: what + " write", start: start, end: time.Now(), err: err})
			return true
		}
		for _, tg := range loadTargets {
			o := outcome{what: what + " " + tg.path, start: start}
			_, perr := br.Peek(1)
			o.started = perr == nil
			resp, err := http.ReadResponse(br, nil)
			if err == nil {
				o.status = resp.StatusCode
				o.closed = resp.Close
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && o.status != tg.status {
					err = fmt.Errorf("status %d, want %d", o.status, tg.status)
				}
			}
			o.err, o.end = err, time.Now()
			l.record(o)
			if err != nil || o.closed {
				return true
			}
		}
	}
	return true
}

func (l *load) finish() []outcome {
	close(l.stop)
	l.wg.Wait()
	return l.out
}

// SIGTERM under load, with shutdown_delay: /readyz goes 503 at once while
// every client (Go keep-alive, new connections, pipelined raw connections,
// admin) is still answered normally for the delay; then the public
// listener refuses new connections, a request already in progress is
// answered, and the process exits 0 within delay + shutdown_timeout.
// Throughout, no answer is cut short or has a bad status; a request may go
// unanswered only after the listeners closed, on a connection the gateway
// closed without having begun an answer (the client may retry it).
func TestServeSIGTERMUnderLoad(t *testing.T) {
	endpoint := testenv.S3(t)
	rules, _ := filepath.Abs("../../examples/rules.yaml")
	const delay, timeout = 1500 * time.Millisecond, 3 * time.Second
	for _, loops := range []int{0, -1} {
		t.Run(fmt.Sprintf("event_loops=%d", loops), func(t *testing.T) {
			p := startServe(t, fmt.Sprintf(`rules: %s
event_loops: %d
shutdown_delay: %s
shutdown_timeout: %s
s3: {endpoint: %q, region: us-east-1, path_style: true, access_key: edgegate-demo, secret_key: edgegate-demo-secret}
`, rules, loops, delay, timeout, endpoint))
			for _, tg := range loadTargets { // warm the caches: the load asks for cached answers
				resp, err := noRedirectClient.Get("http://" + p.pub + tg.path)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tg.status {
					t.Fatalf("warm-up %s: %d, want %d", tg.path, resp.StatusCode, tg.status)
				}
			}
			l := startLoad(p)
			defer func() {
				select {
				case <-l.stop:
				default:
					l.finish()
				}
			}()
			time.Sleep(300 * time.Millisecond) // load before the signal
			sigAt := time.Now()
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			for ; ; time.Sleep(5 * time.Millisecond) {
				if readyz(p.adm) == http.StatusServiceUnavailable {
					break
				}
				if time.Since(sigAt) > delay/2 {
					t.Fatalf("/readyz not 503 %v after SIGTERM\n%s", time.Since(sigAt), p.logs.String())
				}
			}
			// A request in progress when the listeners close: half sent now.
			half, err := net.Dial("tcp", p.pub)
			if err != nil {
				t.Fatalf("dial %v into the delay: %v", time.Since(sigAt), err)
			}
			defer half.Close()
			fmt.Fprint(half, "GET /r/map-tiles.zip?region=uk-london HTTP/1.1\r\nHost: x\r\n")

			p.waitLog(t, "shutting down: listeners closed", delay+2*time.Second)
			closedAt := time.Now()
			for { // the line comes just before the listeners close
				c, err := net.DialTimeout("tcp", p.pub, time.Second)
				if err != nil {
					break
				}
				c.Close()
				if time.Since(closedAt) > time.Second {
					t.Fatalf("the public listener still accepts 1s after the shutdown line")
				}
				time.Sleep(5 * time.Millisecond)
			}
			fmt.Fprint(half, "\r\n")
			half.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(half), nil)
			if err != nil {
				t.Errorf("the request in progress got no answer: %v", err)
			} else if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusFound {
				t.Errorf("the request in progress: status %d, body %v; want 302, nil", resp.StatusCode, err)
			}
			select {
			case err := <-p.exited:
				p.exited <- err
				if err != nil {
					t.Fatalf("exit: %v\n%s", err, p.logs.String())
				}
			case <-time.After(timeout + 2*time.Second):
				t.Fatalf("still running %v after SIGTERM\n%s", time.Since(sigAt), p.logs.String())
			}
			if took := time.Since(sigAt); took > delay+timeout+time.Second {
				t.Errorf("exited %v after SIGTERM, want within delay + shutdown_timeout (%v)", took, delay+timeout)
			}
			if took := closedAt.Sub(sigAt); took < delay {
				t.Errorf("listeners closed %v after SIGTERM, before the %v delay", took, delay)
			}
			out := l.finish()
			// Everything that began before the listeners closed (less a
			// margin for a request begun just before) must be answered.
			cutoff := sigAt.Add(delay - 250*time.Millisecond)
			var ok, okInDelay int
			unanswered := map[string]int{} // after the listeners closed, by error
			for _, o := range out {
				switch {
				case o.err == nil:
					ok++
					if o.start.After(sigAt.Add(100*time.Millisecond)) && o.end.Before(cutoff) && strings.Contains(o.what, "/r/") {
						okInDelay++
					}
					if o.closed && o.start.Before(cutoff) {
						t.Errorf("%s: Connection: close %v after SIGTERM, during the delay", o.what, o.start.Sub(sigAt))
					}
				case o.started:
					t.Errorf("%s: an answer begun %v after SIGTERM was cut short: %v", o.what, o.start.Sub(sigAt), o.err)
				case o.start.Before(cutoff):
					t.Errorf("%s: no answer to a request begun %v after SIGTERM, during the delay: %v", o.what, o.start.Sub(sigAt), o.err)
				default:
					unanswered[errKind(o.err)]++
					if errKind(o.err) != "refused" {
						t.Logf("unanswered: %s begun %v after SIGTERM: %v", o.what, o.start.Sub(sigAt), o.err)
					}
				}
			}
			t.Logf("%d requests answered (%d on /r/ during the delay); unanswered after the listeners closed: %v", ok, okInDelay, unanswered)
			if okInDelay < 20 {
				t.Errorf("only %d /r/ requests answered during the delay", okInDelay)
			}
			for _, want := range []string{"shutdown delay: /readyz answers 503", "shutdown delay over", "stopped cleanly"} {
				if !strings.Contains(p.logs.String(), want) {
					t.Errorf("logs lack %q:\n%s", want, p.logs.String())
				}
			}
		})
	}
}

// A second SIGTERM during shutdown_delay ends the delay: the process exits
// at once, not after the delay.
func TestServeSecondSIGTERMEndsDelay(t *testing.T) {
	endpoint := testenv.S3(t)
	rules, _ := filepath.Abs("../../examples/rules.yaml")
	p := startServe(t, fmt.Sprintf(`rules: %s
shutdown_delay: 1m
s3: {endpoint: %q, region: us-east-1, path_style: true, access_key: edgegate-demo, secret_key: edgegate-demo-secret}
`, rules, endpoint))
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.waitLog(t, "shutdown delay: /readyz answers 503", 5*time.Second)
	if code := readyz(p.adm); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d during the delay, want 503", code)
	}
	resp, err := noRedirectClient.Get("http://" + p.pub + "/r/map-tiles.zip?region=uk-london")
	if err != nil {
		t.Fatalf("during the delay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("during the delay: status %d, want 302", resp.StatusCode)
	}
	secondAt := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.exited <- err
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.logs.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5s after the second SIGTERM (delay 1m)\n%s", p.logs.String())
	}
	t.Logf("exited %v after the second SIGTERM", time.Since(secondAt))
	for _, want := range []string{"shutdown delay cut short", "stopped cleanly"} {
		if !strings.Contains(p.logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, p.logs.String())
		}
	}
}

// errKind names an error's kind for a summary.
func errKind(err error) string {
	for _, k := range []string{"refused", "reset", "EOF", "broken pipe", "timeout"} {
		if strings.Contains(err.Error(), k) {
			return k
		}
	}
	return err.Error()
}

var noRedirectClient = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// readyz is the admin /readyz status on a new connection, 0 on an error.
func readyz(adm string) int {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + adm + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
