//go:build linux && !noevloop

package evloop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// takerHandler answers /fast on the loop and takes nothing else.
type takerHandler struct{ testHandler }

func (*takerHandler) Takes(r *Request) bool { return string(r.Path) == "/fast" }

// With a Taker, a connection whose first request the loop does not take
// reaches the full server as the plain *net.TCPConn, all its bytes
// intact; one that starts with a taken request is answered on the loop,
// and a later request that is not taken still hands it off, replayed.
func TestTakerHandsOffUntouched(t *testing.T) {
	s, err := New(&takerHandler{testHandler{blockDelay: time.Millisecond}}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	fs := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		_, plain := ctx.Conn().(*net.TCPConn)
		fmt.Fprintf(ctx, "full %s plain=%v body=%s", ctx.RequestURI(), plain, ctx.PostBody())
	}}
	go fs.Serve(s.Handoffs())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		fs.ShutdownWithContext(ctx)
	})
	exchange := func(c net.Conn, br *bufio.Reader, req string) string {
		t.Helper()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}

	c, br := dial()
	post := "POST /img/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
	if got := exchange(c, br, post); got != "full /img/x plain=true body=hello" {
		t.Fatalf("first request not taken: %q", got)
	}
	if got := exchange(c, br, "GET /fast HTTP/1.1\r\nHost: h\r\n\r\n"); !strings.HasPrefix(got, "full /fast plain=true") {
		t.Fatalf("the connection stays with the full server: %q", got)
	}

	c, br = dial()
	if got := exchange(c, br, "GET /fast HTTP/1.1\r\nHost: h\r\n\r\n"); !strings.HasPrefix(got, "fast") {
		t.Fatalf("taken first request: %q", got)
	}
	if got := exchange(c, br, "GET /later HTTP/1.1\r\nHost: h\r\n\r\n"); got != "full /later plain=false body=" {
		t.Fatalf("later request not taken: %q", got)
	}
	if st := s.Stats(); st.Handoffs != 2 {
		t.Errorf("Handoffs = %d, want 2", st.Handoffs)
	}
}
