// Command loadtest drives edgegate with realistic traffic and reports
// latency percentiles, throughput, errors and the image cache hit ratio.
//
//	go run ./loadtest --target http://127.0.0.1:8080 --scenario route-query --rate 500 --duration 30s --report out.html
//	go run ./loadtest --target http://127.0.0.1:8080 --scenario images --max --workers 64 --duration 30s --json out.json
//	go run ./loadtest --target http://127.0.0.1:8080 --scenario mixed --rate 300 --duration 10m \
//	    --watch-metrics http://127.0.0.1:9090 --report soak.html
//
// Scenarios (route-query, route-geoip, images, mixed) come from the
// built-in scenarios.yaml or --scenarios FILE.yaml; --list shows them. The
// open loop (--rate) measures latency from each request's intended send
// time, so a slow gateway shows its queueing delay; --max runs a closed loop
// of --workers. Redirects are not followed: 2xx and 3xx are successes.
// --client raw replaces net/http with a lean HTTP/1.1 client over a pool of
// --conns keep-alive connections (http:// only), for rates above ~10k req/s.
//
// `loadtest uploads` drives the upload path instead (issue 15): it puts
// sources in S3, sends their S3 event notifications to an SQS queue at a
// fixed rate and reports the lag from each message to the last of its
// variants listed in S3, lost messages and the dead-letter queue's count
// (loadtest/internal/uploads; scripts/bench-uploads.sh runs it against
// its own versitygw, goaws and gateway):
//
//	go run ./loadtest uploads --queue-url URL --sqs-endpoint URL --s3-endpoint URL --count 1000 --rate 50
//
// The work is done by loadtest/internal/cli; this file only wires the
// process (signals, exit status, the embedded default scenarios).
package main

import (
	"context"
	_ "embed"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgegate/edgegate/loadtest/internal/cli"
)

//go:embed scenarios.yaml
var defaultScenarios []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], defaultScenarios, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
