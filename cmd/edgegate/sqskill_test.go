//go:build !noevloop

// The SQS path does not touch the event loops: once, in the default
// build, is enough (make test runs cmd/... again with -tags noevloop).

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/h2non/bimg"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

// putCounter is a pass-through proxy in front of a real S3 server that
// counts the PUTs S3 accepted (2xx) by object key.
type putCounter struct {
	URL string
	mu  sync.Mutex
	ok  map[string]int
}

func newPutCounter(t *testing.T, endpoint string) *putCounter {
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c := &putCounter{ok: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		r := resp.Request
		if r.Method == http.MethodPut && resp.StatusCode/100 == 2 {
			key := strings.TrimPrefix(r.URL.Path, "/"+demo.Bucket+"/")
			c.mu.Lock()
			c.ok[key]++
			c.mu.Unlock()
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

func (c *putCounter) puts(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok[key]
}

// metric reads one sample (name with its labels, as /metrics writes it)
// from a served process; -1 when absent or unreachable.
func metric(adm, sample string) float64 {
	resp, err := http.Get("http://" + adm + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// A gateway SIGKILLed while it renders an upload's variants (some stored,
// one rendering) loses nothing: the message, no longer extended, is
// visible again after its visibility timeout; a restarted gateway receives
// it, renders only the variants not yet in S3 and deletes it. Nothing is
// rendered twice into S3: every variant key is PUT (and accepted) exactly
// once across both processes, and those the killed process stored keep
// their ETag and Last-Modified.
func TestSQSKilledMidRenderIsRedelivered(t *testing.T) {
	const visibility, extend = 4 * time.Second, time.Second
	s3ep := testenv.NewS3(t, "")
	puts := newPutCounter(t, s3ep)
	q := testenv.NewSQS(t, visibility, testenv.SQSQueue{Name: "dead"},
		testenv.SQSQueue{Name: "uploads", DeadLetter: "dead", MaxReceiveCount: 3})
	rules, _ := filepath.Abs("../../examples/rules.yaml")
	// Six large presets (and only those: events.presets) of a
	// 12-megapixel source: long enough a render that the kill lands
	// between two PUTs.
	presets := []string{"p1", "p2", "p3", "p4", "p5", "p6"}
	var yaml strings.Builder
	for i, p := range presets {
		fmt.Fprintf(&yaml, "    %s: {width: %d, folder: %s/}\n", p, 3600-400*i, p)
	}
	config := fmt.Sprintf(`rules: %s
s3: {endpoint: %q, region: us-east-1, path_style: true, access_key: edgegate-demo, secret_key: edgegate-demo-secret}
images:
  max_width: 4000
  presets:
%sevents:
  eager: ["global/uploads/**"]
  presets: [%s]
  sqs:
    - url: %s
      endpoint: %s
      wait_time: 1s
      visibility_timeout: %s
      extend_interval: %s
      concurrency: 1
`, rules, puts.URL, yaml.String(), strings.Join(presets, ", "), q.QueueURL("uploads"), q.Endpoint, visibility, extend)

	ctx := context.Background()
	key := "global/uploads/kill/photo.jpg"
	// Drawn small and enlarged by libvips: drawing 12 megapixels in Go
	// takes a minute under the race detector.
	small, err := demo.SampleJPEG(800, 600)
	if err != nil {
		t.Fatal(err)
	}
	jpg, err := bimg.NewImage(small).Process(bimg.Options{Width: 4000, Height: 3000, Enlarge: true, Force: true, Type: bimg.JPEG, Quality: 90})
	if err != nil {
		t.Fatal(err)
	}
	s3c := demo.Client(s3ep)
	src, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(demo.Bucket), Key: &key,
		Body: bytes.NewReader(jpg), ContentType: aws.String("image/jpeg")})
	if err != nil {
		t.Fatal(err)
	}
	srcETag := aws.ToString(src.ETag)
	sqsc := sqs.NewFromConfig(aws.Config{Region: demo.Region,
		Credentials: credentials.NewStaticCredentialsProvider(demo.AccessKey, demo.SecretKey, "")},
		func(o *sqs.Options) { o.BaseEndpoint = aws.String(q.Endpoint) })
	queueURL := q.QueueURL("uploads")
	body := `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventName":"ObjectCreated:Put",` +
		`"s3":{"bucket":{"name":"` + demo.Bucket + `"},"object":{"key":"` + key + `","size":1,"eTag":"x"}}}]}`

	a := startServe(t, config)
	if _, err := sqsc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &queueURL, MessageBody: &body}); err != nil {
		t.Fatal(err)
	}
	// In flight: at least one variant stored and a render holding
	// admission, read from the process's own metrics.
	var storedByA float64
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		storedByA = metric(a.adm, "edgegate_variants_stored_total")
		if storedByA >= 1 && metric(a.adm, "edgegate_image_admission_megapixels_in_use") > 0 {
			break
		}
		if storedByA >= float64(len(presets)) {
			t.Fatalf("every variant was stored before a render was seen in flight: the render is too fast for this test")
		}
		if time.Now().After(deadline) {
			t.Fatalf("no render in flight after 60s (stored %v):\n%s", storedByA, a.logs.String())
		}
	}
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	<-a.exited
	a.exited <- nil // for the cleanup

	type version struct{ etag, modified string }
	before := map[string]version{}
	for _, p := range presets {
		vk := p + "/" + key + ".jpg"
		if h, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(demo.Bucket), Key: &vk}); err == nil {
			before[vk] = version{aws.ToString(h.ETag), h.LastModified.String()}
		}
	}
	if len(before) == 0 || len(before) == len(presets) {
		lo, _ := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(demo.Bucket)})
		for _, o := range lo.Contents {
			t.Logf("stored: %s", aws.ToString(o.Key))
		}
		t.Fatalf("%d of %d variants stored at the kill; want some but not all", len(before), len(presets))
	}
	t.Logf("killed with %d of %d variants stored (metrics said %v)", len(before), len(presets), storedByA)

	b := startServe(t, config)
	const done = `edgegate_sqs_messages_total{outcome="done",queue="uploads"}`
	for deadline := time.Now().Add(60 * time.Second); metric(b.adm, done) != 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted gateway did not finish the message in 60s:\n%s", b.logs.String())
		}
	}
	// Not before the visibility timeout the killed process last extended
	// (at most extend before the kill) had passed.
	if took := time.Since(killedAt); took < visibility-extend {
		t.Errorf("done %v after the kill: received again before the visibility timeout (%v)", took, visibility)
	}
	for _, name := range []string{"uploads", "dead"} {
		u := q.QueueURL(name)
		out, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &u,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
				types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range out.Attributes {
			if v != "0" {
				t.Errorf("queue %s: %s = %s, want 0", name, k, v)
			}
		}
	}
	for _, p := range presets {
		vk := p + "/" + key + ".jpg"
		h, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(demo.Bucket), Key: &vk})
		if err != nil {
			t.Errorf("variant %s not stored: %v", vk, err)
			continue
		}
		if got := h.Metadata["source-etag"]; got != srcETag {
			t.Errorf("variant %s: source-etag %q, want %q", vk, got, srcETag)
		}
		if n := puts.puts(vk); n != 1 {
			t.Errorf("variant %s PUT %d times, want once", vk, n)
		}
		if v, ok := before[vk]; ok && (v != version{aws.ToString(h.ETag), h.LastModified.String()}) {
			t.Errorf("variant %s stored before the kill was overwritten: %+v, now %s %s", vk, v, aws.ToString(h.ETag), h.LastModified)
		}
	}
	if n := metric(b.adm, "edgegate_variants_stored_total"); n != float64(len(presets)-len(before)) {
		t.Errorf("the restarted gateway stored %v variants, want %d (the ones missing)", n, len(presets)-len(before))
	}
}
