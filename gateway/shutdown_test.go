package gateway

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// After shutdown starts, new connections are refused, but a request
// already being served completes with its normal answer, and
// ServeListeners returns nil.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	g := startGateway(t, demoRules(t))
	entered := make(chan struct{})
	release := make(chan struct{})
	g.srv.testHookRoute = func() {
		close(entered)
		<-release
	}
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := noRedirect.Get(g.base + "/r/map-tiles.zip?region=uk-london")
		if err == nil {
			resp.Body.Close()
		}
		done <- result{resp, err}
	}()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("request never reached the handler")
	}
	g.cancel() // what SIGTERM does in main

	// The listener closes: new connections fail.
	addr := strings.TrimPrefix(g.base, "http://")
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting 3s after shutdown began")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-g.done:
		t.Fatalf("server returned (%v) while a request was in flight", err)
	default:
	}
	close(release)
	r := <-done
	if r.err != nil {
		t.Fatalf("in-flight request failed: %v", r.err)
	}
	if r.resp.StatusCode != http.StatusFound {
		t.Fatalf("in-flight request: status %d, want 302", r.resp.StatusCode)
	}
	select {
	case err := <-g.done:
		if err != nil {
			t.Fatalf("ServeListeners: %v", err)
		}
		g.done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop after the in-flight request finished")
	}
}
