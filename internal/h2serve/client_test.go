package h2serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// goClient speaks HTTP/2 only (net/http's Transport: x/net's is deprecated
// and the same code).
func goClient() *http.Client {
	var p http.Protocols
	p.SetHTTP2(true)
	return &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, Protocols: &p}}
}

// TestGoClient: Go's HTTP/2 client, answers inline and on Slow,
// bodies larger than the initial window, a request body, HEAD, many
// concurrent streams on one connection.
func TestGoClient(t *testing.T) {
	ts := startServer(t, Config{}, &testHandler{size: 200 << 10})
	cl := goClient()
	tests := []struct {
		method, path, body string
		status             int
		want               string
		length             int
	}{
		{"GET", "/a?x=1", "", 200, "hello\n", 6},
		{"GET", "/slow", "", 200, "slow\n", 5},
		{"GET", "/big", "", 200, "", 200 << 10},
		{"HEAD", "/big", "", 200, "", 0},
		{"POST", "/a", strings.Repeat("z", 300<<10), 200, "hello\n", 6},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, _ := http.NewRequest(tt.method, "https://"+ts.addr+tt.path, body)
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || resp.ProtoMajor != 2 || len(b) != tt.length || (tt.want != "" && string(b) != tt.want) {
				t.Fatalf("%d %s %d bytes %q", resp.StatusCode, resp.Proto, len(b), b[:min(len(b), 20)])
			}
			if tt.path == "/big" && tt.method == "GET" && !bytes.Equal(b[:26], []byte("abcdefghijklmnopqrstuvwxyz")) {
				t.Fatal("body corrupted")
			}
			if tt.method == "HEAD" && resp.ContentLength != 200<<10 {
				t.Fatalf("HEAD content-length %d", resp.ContentLength)
			}
		})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := "/a"
			if i%3 == 0 {
				p = "/slow"
			} else if i%7 == 0 {
				p = "/big"
			}
			resp, err := cl.Get("https://" + ts.addr + p)
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- io.ErrUnexpectedEOF
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestCurl: curl --http2 gets the same answer.
func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	ts := startServer(t, Config{}, &testHandler{})
	out, err := exec.Command(curl, "-sS", "-k", "--http2", "-D", "-", "https://localhost:"+ts.addr[strings.LastIndex(ts.addr, ":")+1:]+"/x").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	s := string(out)
	for _, want := range []string{"HTTP/2 200", "content-type: text/plain", "x-path: /x", "content-length: 6", "hello"} {
		if !strings.Contains(s, want) {
			t.Fatalf("missing %q in\n%s", want, s)
		}
	}
}

// TestRequestRefusals: the server's own answers to requests it will not
// pass on.
func TestRequestRefusals(t *testing.T) {
	ts := startServer(t, Config{MaxConcurrentStreams: 4}, &testHandler{gate: make(chan struct{})})
	tests := []struct {
		name   string
		fields []hpack.HeaderField
		status string
		body   string
		code   http2.ErrCode
	}{
		{name: "header list too large", fields: []hpack.HeaderField{{Name: "x-big", Value: strings.Repeat("b", 9000)}}, status: "431", body: `"status":431`},
		{name: "uppercase name", fields: []hpack.HeaderField{{Name: "X-Up", Value: "1"}}, code: http2.ErrCodeProtocol},
		{name: "connection header", fields: []hpack.HeaderField{{Name: "connection", Value: "close"}}, code: http2.ErrCodeProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := dialRaw(t, ts.addr)
			rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: rc.block("/", tt.fields...), EndStream: true, EndHeaders: true})
			var status string
			var body []byte
			dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
				if f.Name == ":status" {
					status = f.Value
				}
			})
			f := rc.until(5*time.Second, func(f http2.Frame) bool {
				switch f := f.(type) {
				case *http2.HeadersFrame:
					dec.Write(f.HeaderBlockFragment())
				case *http2.DataFrame:
					body = append(body, f.Data()...)
					return f.StreamEnded()
				case *http2.RSTStreamFrame:
					return true
				}
				return false
			})
			if tt.code != 0 {
				if rst, ok := f.(*http2.RSTStreamFrame); !ok || rst.ErrCode != tt.code {
					t.Fatalf("got %v, want RST_STREAM %v", f, tt.code)
				}
				return
			}
			if status != tt.status || !strings.Contains(string(body), tt.body) {
				t.Fatalf("status %q body %q", status, body)
			}
		})
	}
	t.Run("past max concurrent streams", func(t *testing.T) {
		rc := dialRaw(t, ts.addr)
		for i := range 5 {
			rc.get(uint32(2*i+1), "/slow")
		}
		f := rc.until(5*time.Second, func(f http2.Frame) bool { _, ok := f.(*http2.RSTStreamFrame); return ok })
		if rst, ok := f.(*http2.RSTStreamFrame); !ok || rst.StreamID != 9 || rst.ErrCode != http2.ErrCodeRefusedStream {
			t.Fatalf("got %v, want RST_STREAM 9 REFUSED_STREAM", f)
		}
		if st := ts.srv.Stats(); st.RefusedStreams != 1 {
			t.Fatalf("refused streams counted %d, want 1", st.RefusedStreams)
		}
	})
	close(ts.srv.h.(*testHandler).gate)
}

// TestShutdownGraceful: a stream in flight is answered after GOAWAY.
func TestShutdownGraceful(t *testing.T) {
	h := &testHandler{gate: make(chan struct{}), started: make(chan struct{}, 1)}
	ts := startServer(t, Config{}, h)
	rc := dialRaw(t, ts.addr)
	rc.get(1, "/slow")
	<-h.started
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- ts.srv.Shutdown(ctx)
	}()
	if code := rc.goAway(5 * time.Second); code != http2.ErrCodeNo {
		t.Fatalf("GOAWAY %v", code)
	}
	close(h.gate)
	f := rc.until(5*time.Second, func(f http2.Frame) bool { d, ok := f.(*http2.DataFrame); return ok && d.StreamEnded() })
	if f == nil || string(f.(*http2.DataFrame).Data()) != "slow\n" {
		t.Fatalf("stream 1 not answered: %v", f)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
