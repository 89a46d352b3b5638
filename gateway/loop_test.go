package gateway

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/evloop"
	"github.com/edgegate/edgegate/internal/testenv"
)

// On the loops too, a cached route request allocates nothing, from
// parsing to the last byte of the answer.
func TestLoopRouteAllocatesNothing(t *testing.T) {
	g := startGateway(t, demoRules(t), withGeo(t))
	h := loopHandler{g.srv}
	for _, tc := range []struct{ name, req, loc string }{
		{"query region", "GET /r/map-tiles.zip?region=uk-london HTTP/1.1\r\nHost: x\r\n\r\n", "/uk/london/map-tiles.zip?"},
		{"geoip", "GET /r/map-tiles.zip HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: " + ipCairo + "\r\n\r\n", "/egypt/cairo/map-tiles.zip?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r evloop.Request
			raw := []byte(tc.req)
			if _, ok := r.Parse(raw); !ok {
				t.Fatal("request not parsed")
			}
			r.Peer = netip.MustParseAddr("127.0.0.1")
			dst := make([]byte, 0, 4096)
			out := []byte(h.ServeBlocking(dst, &r)) // warm-up: existence checks and the URL cache fill
			if !strings.HasPrefix(string(out), "HTTP/1.1 302 Found\r\n") || !strings.Contains(string(out), tc.loc) {
				t.Fatalf("answer %q", out)
			}
			var v evloop.Verdict
			allocs := testing.AllocsPerRun(200, func() {
				r.Parse(raw)
				out, v = h.Serve(dst[:0], &r)
			})
			if v != evloop.Done || !strings.Contains(string(out), tc.loc) {
				t.Fatalf("verdict %v, answer %q", v, out)
			}
			checkAllocs(t, allocs, 0, "cached loop request")
		})
	}
}

// When a cached existence answer expires, requests keep getting it while
// one background HEAD refreshes it (stale-while-revalidate); the refreshed
// answer then takes over. Here the object is deleted after the first
// answer: the next request past the TTL still gets the stale prefix, and
// a later one the fallback.
func TestExistenceStaleWhileRevalidate(t *testing.T) {
	g := startGateway(t, demoRules(t), func(c *Config) { c.Exists.TTL = 300 * time.Millisecond })
	rel := putObject(t, "swr.bin", []byte("x"), "application/octet-stream")
	// Also under egypt/, the first prefix for region egypt.
	client := demo.Client(testenv.S3(t))
	if _, err := client.PutObject(context.Background(), putInput(demo.Bucket, "egypt/"+rel, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	url := g.base + "/r/" + rel + "?region=egypt"
	if a := answer(t, url); a.Key != "egypt/"+rel {
		t.Fatalf("first answer: key %q", a.Key)
	}
	if _, err := client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(demo.Bucket), Key: aws.String("egypt/" + rel)}); err != nil {
		t.Fatal(err)
	}
	heads := testutil.ToFloat64(g.srv.metrics.s3Heads)
	time.Sleep(400 * time.Millisecond) // past the TTL, within TTL more of staleness
	if a := answer(t, url); a.Key != "egypt/"+rel {
		t.Fatalf("just past the TTL: key %q, want the stale egypt/ answer", a.Key)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := answer(t, url)
		if a.Key == "global/"+rel {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refresh never landed: key %q", a.Key)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := testutil.ToFloat64(g.srv.metrics.s3Heads) - heads; n < 1 {
		t.Errorf("no HEAD refreshed the entry")
	}
}
