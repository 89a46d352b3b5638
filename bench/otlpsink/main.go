// Command otlpsink is the OTLP/HTTP collector of scripts/bench-tracing.sh:
// it accepts POST /v1/traces (protobuf), decodes each export as a
// collector would, counts the spans and drops them. GET /count prints the
// count.
//
//	usage: otlpsink [-addr 127.0.0.1:14318]
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:14318", "listen address")
	flag.Parse()
	var spans, exports atomic.Int64
	http.HandleFunc("/v1/traces", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var in collectorpb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &in)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rs := range in.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				spans.Add(int64(len(ss.GetSpans())))
			}
		}
		exports.Add(1)
		out, _ := proto.Marshal(&collectorpb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	})
	http.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d spans in %d exports\n", spans.Load(), exports.Load())
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
