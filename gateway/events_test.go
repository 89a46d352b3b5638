package gateway

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// eventBody builds an S3 event notification; each record is {eventName, bucket, key}.
func eventBody(name, bucket, key string, more ...[3]string) string {
	recs := append([][3]string{{name, bucket, key}}, more...)
	var parts []string
	for _, r := range recs {
		parts = append(parts, `{"eventName":"`+r[0]+`","s3":{"bucket":{"name":"`+r[1]+`"},"object":{"key":"`+r[2]+`"}}}`)
	}
	return `{"Records":[` + strings.Join(parts, ",") + `]}`
}

// The real flow: versitygw posts its upload notifications to the admin
// endpoint; a photo PUT under an eager pattern gets its three presets
// rendered and stored within seconds, without any client request.
func TestUploadEventsRenderPresets(t *testing.T) {
	s3addr := testenv.FreeAddr(t)
	g := startGateway(t, demoRules(t), withImages(func(c *ImagesConfig) {}), func(c *Config) {
		c.S3.Endpoint = "http://" + s3addr
		c.Events.Eager = []string{"global/uploads/**"}
	})
	// versitygw checks its webhook at startup: the gateway is already up.
	ep := testenv.NewS3(t, s3addr, "--event-webhook-url", g.admin+"/events/s3")
	jpg, _ := demo.SampleJPEG(1920, 1080)
	c := demo.Client(ep)
	in := putInput(demo.Bucket, "global/uploads/new photo.jpg", jpg)
	in.ContentType = strPtr("image/jpeg")
	if _, err := c.PutObject(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	want := []string{"thumbnails/global/uploads/new photo.jpg.jpg", "medium/global/uploads/new photo.jpg.jpg", "large/global/uploads/new photo.jpg.jpg"}
	deadline := time.Now().Add(20 * time.Second)
	for _, k := range want {
		for {
			if _, err := c.HeadObject(context.Background(), headInput(demo.Bucket, k)); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("variant %q not stored within 20s of the upload", k)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	processed := func() float64 { return testutil.ToFloat64(g.srv.metrics.eventsProcessed) }
	waitFor(t, 10*time.Second, "the upload's event job to finish", func() bool { return processed() >= 1 })
	rendered := testutil.ToFloat64(g.srv.metrics.imagesRendered)
	if rendered != 3 {
		t.Fatalf("rendered %v variants, want 3", rendered)
	}
	// One download of the source for its three variants (there were three).
	if gets := value(scrape(t, g), "edgegate_s3_request_duration_seconds", "operation", "GetObject"); gets != 1 {
		t.Errorf("%v source GETs for 1 upload × 3 variants; want 1", gets)
	}
	done := processed()
	// A duplicate event renders nothing new; an event for a variant key
	// (our own write-back) is ignored, and a delete of a source that is
	// still there (uploaded again since) keeps its variants.
	for _, body := range []string{
		eventBody("s3:ObjectCreated:Put", demo.Bucket, "global/uploads/new+photo.jpg"),
		eventBody("s3:ObjectCreated:Put", demo.Bucket, "thumbnails/global/uploads/x.jpg"),
		eventBody("s3:ObjectRemoved:Delete", demo.Bucket, "global/uploads/new+photo.jpg"),
	} {
		resp, err := http.Post(g.admin+"/events/s3", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("event: status %d", resp.StatusCode)
		}
	}
	waitFor(t, 10*time.Second, "the duplicate event's job to finish", func() bool { return processed() >= done+1 })
	if n := testutil.ToFloat64(g.srv.metrics.imagesRendered); n != rendered {
		t.Fatalf("after duplicate events: rendered %v, want still %v", n, rendered)
	}
	// The served thumbnail is the stored one's twin: same bytes.
	resp, body := get(t, g.base+"/img/thumbnail/uploads/new%20photo.jpg")
	if resp.StatusCode != 200 || probe(t, body).Width != 150 {
		t.Fatalf("thumbnail after the event: %d", resp.StatusCode)
	}
}

func TestEventsEndpointInput(t *testing.T) {
	g := startGateway(t, demoRules(t), func(c *Config) {
		c.Events.Eager = []string{"global/uploads/**"}
		c.Events.Token = "s3cret-token"
		c.Events.Queue = 1
	})
	post := func(h http.HandlerFunc, auth, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/events/s3", strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h(rec, req)
		return rec
	}
	ok := eventBody("s3:ObjectCreated:Put", demo.Bucket, "global/uploads/a.jpg")
	if rec := post(g.srv.eventsHandler, "", ok); rec.Code != http.StatusUnauthorized {
		t.Errorf("no token: %d", rec.Code)
	}
	if rec := post(g.srv.eventsHandler, "Bearer wrong", ok); rec.Code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", rec.Code)
	}
	if rec := post(g.srv.eventsHandler, "Bearer s3cret-token", "{not json"); rec.Code != http.StatusBadRequest || !bytes.Contains(rec.Body.Bytes(), []byte(`"error"`)) {
		t.Errorf("bad JSON: %d %s", rec.Code, rec.Body)
	}
	// A built but not started server has no workers: the queue (1) fills.
	cfg := g.srv.cfg
	idle, err := New(context.Background(), cfg, g.srv.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idle.clock.Stop)
	two := eventBody("s3:ObjectCreated:Put", demo.Bucket, "global/uploads/a.jpg",
		[3]string{"s3:ObjectCreated:Put", demo.Bucket, "global/uploads/b.jpg"})
	rec := post(idle.eventsHandler, "Bearer s3cret-token", two)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("queue full: %d %s (Retry-After %q)", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
}

func strPtr(s string) *string { return &s }
