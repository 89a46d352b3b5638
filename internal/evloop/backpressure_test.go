//go:build linux && !noevloop

package evloop

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Clients that pipeline many requests and never read: the loop stops
// reading them while their unsent answers are over MaxOutputBytes, so what
// it holds per connection stays near the bound; once they read, every
// answer arrives, in order.
func TestServerOutputBoundedWhileClientDoesNotRead(t *testing.T) {
	const conns, n = 4, 1000
	ts := startServer(t, nil, Config{Loops: 1}, nil)
	var reqs bytes.Buffer
	for i := range n {
		reqs.WriteString(get(fmt.Sprintf("/pad?i=%d", i)))
	}
	cs := make([]*tclient, conns)
	var wg sync.WaitGroup
	werrs := make(chan error, conns)
	for i := range cs {
		cs[i] = dialSmallWindow(t, ts.addr)
		wg.Add(1)
		go func() { defer wg.Done(); _, err := cs[i].Write(reqs.Bytes()); werrs <- err }()
	}
	// Every connection's answers have filled its socket and the loop holds
	// the rest (before the bound, it held all it had read requests for).
	waitStats(t, ts.Server, "every connection to be paused", func(st Stats) bool { return st.Paused >= conns })
	const answerBytes = 8<<10 + 100
	bound := int64(64<<10 + answerBytes)
	if st := ts.Stats(); st.OutPeak > bound {
		t.Errorf("a connection held %d unsent bytes, want at most %d", st.OutPeak, bound)
	}
	for _, c := range cs {
		for i := range n {
			resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatalf("answer %d: %v", i, err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("answer %d: %v", i, err)
			}
			if want := fmt.Sprintf("pad %d", i); !strings.HasPrefix(string(b), want) || len(b) != len(want)+8<<10 {
				t.Fatalf("answer %d: %d bytes starting %.20q, want %q and 8 KiB", i, len(b), b, want)
			}
		}
	}
	wg.Wait()
	close(werrs)
	for err := range werrs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if st := ts.Stats(); st.OutPeak > bound || st.Handoffs != 0 {
		t.Errorf("Stats() = %+v, want OutPeak at most %d and no handoff", st, bound)
	}
}
