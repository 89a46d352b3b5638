// Command sqsproxy serves SQS's JSON protocol (what aws-sdk-go-v2, and so
// edgegate and loadtest, send) in front of goaws, which speaks only the
// query protocol (package internal/sqsproxy does the translation; tests
// get the same through internal/testenv NewSQS). scripts/bench-uploads.sh
// runs it.
//
//	sqsproxy --listen 127.0.0.1:4101 --upstream http://127.0.0.1:4100
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/edgegate/edgegate/internal/sqsproxy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:4101", "`ADDR` to serve the JSON protocol on")
	upstream := flag.String("upstream", "http://127.0.0.1:4100", "`URL` of the query-protocol SQS server (goaws)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	srv := &http.Server{Addr: *listen, Handler: sqsproxy.New(*upstream, client), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "sqsproxy: %v\n", err)
		os.Exit(1)
	}
}
