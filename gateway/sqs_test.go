package gateway

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/queue"
)

// sqsRig is a goaws with an "uploads" queue (and a "dead" dead-letter
// queue after 2 receives) and a client for the test's own calls.
type sqsRig struct {
	t      *testing.T
	env    *testenv.SQS
	client *sqs.Client
	url    string
}

func newSQSRig(t *testing.T, visibility time.Duration) *sqsRig {
	env := testenv.NewSQS(t, visibility, testenv.SQSQueue{Name: "dead"},
		testenv.SQSQueue{Name: "uploads", DeadLetter: "dead", MaxReceiveCount: 2})
	client := sqs.NewFromConfig(aws.Config{Region: demo.Region,
		Credentials: credentials.NewStaticCredentialsProvider(demo.AccessKey, demo.SecretKey, "")},
		func(o *sqs.Options) { o.BaseEndpoint = aws.String(env.Endpoint) })
	return &sqsRig{t: t, env: env, client: client, url: env.QueueURL("uploads")}
}

// withSQS consumes the rig's queue: short polls and visibility, so that
// the tests see redeliveries in seconds.
func (r *sqsRig) withSQS(c *Config) {
	c.Events.SQS = []queue.Config{{URL: r.url, Endpoint: r.env.Endpoint, WaitTime: time.Second,
		VisibilityTimeout: 2 * time.Second, ExtendInterval: 500 * time.Millisecond, Concurrency: 4}}
}

func (r *sqsRig) send(body string) {
	r.t.Helper()
	if _, err := r.client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &r.url, MessageBody: &body}); err != nil {
		r.t.Fatal(err)
	}
}

// messages is how many messages a queue holds, visible or in flight.
func (r *sqsRig) messages(name string) int {
	r.t.Helper()
	u := r.env.QueueURL(name)
	out, err := r.client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &u,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		r.t.Fatal(err)
	}
	n, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	return n
}

func sqsOutcome(g *testGateway, outcome string) float64 {
	return testutil.ToFloat64(g.srv.metrics.sqsMessages.WithLabelValues("uploads", outcome))
}

// The three envelopes a bucket notification reaches a queue in.
func s3Notification(bucket, key string) string {
	enc := strings.ReplaceAll(url.QueryEscape(key), "%2F", "/") // as S3 encodes keys in events
	return `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"` +
		bucket + `"},"object":{"key":"` + enc + `","size":1,"eTag":"x"}}}]}`
}

func snsNotification(inner string) string {
	b, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "1", "Message": inner,
		"TopicArn": "arn:aws:sns:" + demo.Region + ":100010001000:uploads"})
	return string(b)
}

func eventBridgeEvent(bucket, key string) string {
	b, _ := json.Marshal(map[string]any{"version": "0", "detail-type": "Object Created", "source": "aws.s3",
		"detail": map[string]any{"bucket": map[string]string{"name": bucket}, "object": map[string]any{"key": key, "etag": "x"}}})
	return string(b)
}

func uploadJPEG(t *testing.T, key string) {
	t.Helper()
	jpg, _ := demo.SampleJPEG(1920, 1080)
	in := putInput(demo.Bucket, key, jpg)
	in.ContentType = strPtr("image/jpeg")
	if _, err := demo.Client(testenv.S3(t)).PutObject(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// uniqueDir is a folder under dir no earlier run used (the shared S3
// server outlives a test binary).
func uniqueDir(dir string) string {
	return dir + "/" + strconv.FormatInt(time.Now().UnixNano(), 36) + "/"
}

// variantsOf are the stored variants of an upload with the default presets.
func variantsOf(key string) []string {
	return []string{"thumbnails/" + key + ".jpg", "medium/" + key + ".jpg", "large/" + key + ".jpg"}
}

func stored(t *testing.T, key string) bool {
	_, err := demo.Client(testenv.S3(t)).HeadObject(context.Background(), headInput(demo.Bucket, key))
	return err == nil
}

// Upload → a message in each envelope → every preset rendered and stored
// in S3 → the message deleted. The test event is deleted unrendered, an
// event for a bucket the rules do not name is dropped and counted, a
// duplicate renders and writes nothing.
func TestSQSUploadsRenderedThenDeleted(t *testing.T) {
	r := newSQSRig(t, 2*time.Second)
	g := startGateway(t, demoRules(t), withImages(), r.withSQS, func(c *Config) { c.Events.Eager = []string{"global/uploads/sqs/**"} })
	dir := uniqueDir("global/uploads/sqs")
	keys := map[string]string{
		"s3":          dir + "my photo+1 100%.jpg",
		"sns":         dir + "café/日本.jpg",
		"eventbridge": dir + "a b+c.jpg",
	}
	for _, k := range keys {
		uploadJPEG(t, k)
	}
	r.send(`{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"` + demo.Bucket + `"}`)
	r.send(s3Notification(demo.Bucket, keys["s3"]))
	r.send(snsNotification(s3Notification(demo.Bucket, keys["sns"])))
	r.send(eventBridgeEvent(demo.Bucket, keys["eventbridge"]))
	r.send(s3Notification("someone-elses-bucket", "global/uploads/sqs/x.jpg"))
	waitFor(t, 60*time.Second, "the four messages done and the test event deleted", func() bool {
		return sqsOutcome(g, queue.OutcomeDone) == 4 && sqsOutcome(g, queue.OutcomeTestEvent) == 1
	})
	if n := r.messages("uploads"); n != 0 {
		t.Fatalf("%d messages left in the queue, want 0 (deleted)", n)
	}
	for env, k := range keys {
		for _, v := range variantsOf(k) {
			if !stored(t, v) {
				t.Errorf("%s envelope: variant %q not stored", env, v)
			}
		}
	}
	if n := testutil.ToFloat64(g.srv.metrics.eventsRefused.WithLabelValues("bucket")); n != 1 {
		t.Errorf("events refused for their bucket: %v, want 1", n)
	}
	rendered, written := testutil.ToFloat64(g.srv.metrics.imagesRendered), testutil.ToFloat64(g.srv.metrics.variantsStored)
	if rendered != 9 || written != 9 {
		t.Fatalf("rendered %v, stored %v; want 9 and 9", rendered, written)
	}
	// Each upload's source is downloaded once for its three variants.
	if gets := value(scrape(t, g), "edgegate_s3_request_duration_seconds", "operation", "GetObject"); gets != 3 {
		t.Errorf("%v source GETs for 3 uploads × 3 variants; want 3", gets)
	}
	// Delivered again (at-least-once): done, deleted, nothing rendered or written.
	r.send(eventBridgeEvent(demo.Bucket, keys["eventbridge"]))
	waitFor(t, 30*time.Second, "the duplicate done", func() bool { return sqsOutcome(g, queue.OutcomeDone) == 5 })
	if n, w := testutil.ToFloat64(g.srv.metrics.imagesRendered), testutil.ToFloat64(g.srv.metrics.variantsStored); n != rendered || w != written {
		t.Fatalf("duplicate: rendered %v stored %v, want still %v and %v", n, w, rendered, written)
	}
}

// A poison message (a corrupt image) is not deleted: it fails on every
// delivery until the queue's redrive policy (maxReceiveCount 2) moves it
// to the dead-letter queue. Nothing is stored for it.
func TestSQSPoisonMessageReachesDeadLetterQueue(t *testing.T) {
	r := newSQSRig(t, time.Second)
	g := startGateway(t, demoRules(t), withImages(), r.withSQS, func(c *Config) { c.Events.Eager = []string{"global/uploads/poison/**"} })
	key := uniqueDir("global/uploads/poison") + "corrupt.jpg"
	in := putInput(demo.Bucket, key, []byte("\xff\xd8\xff\xe0 this is no JPEG"))
	in.ContentType = strPtr("image/jpeg")
	if _, err := demo.Client(testenv.S3(t)).PutObject(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	r.send(s3Notification(demo.Bucket, key))
	waitFor(t, 60*time.Second, "the poison message in the dead-letter queue", func() bool { return r.messages("dead") == 1 })
	// goaws reports ApproximateReceiveCount 1 on every delivery (it never
	// counts receives), so the dead_letter outcome, read from that count,
	// cannot be seen here; the failures before the move can.
	if n := sqsOutcome(g, queue.OutcomeFailed); n < 2 {
		t.Fatalf("failed deliveries: %v, want at least 2 (maxReceiveCount) before the dead-letter queue", n)
	}
	if n := r.messages("uploads"); n != 0 {
		t.Fatalf("%d messages left in the queue, want 0", n)
	}
	for _, v := range variantsOf(key) {
		if stored(t, v) {
			t.Errorf("variant %q of a corrupt source stored", v)
		}
	}
	if n := sqsOutcome(g, queue.OutcomeDone); n != 0 {
		t.Fatalf("poison message done %v times, want 0", n)
	}
}

// A gateway stopped mid-render (its renders waiting for the megapixel
// admission, which the test holds) releases its message at shutdown; a
// new gateway receives it at once and renders it: every variant written
// once, by the second.
func TestSQSStoppedMidRenderIsRedelivered(t *testing.T) {
	// Visibility long enough that only a release makes the message come
	// back within the test's wait.
	r := newSQSRig(t, 60*time.Second)
	eager := func(c *Config) {
		c.Events.Eager = []string{"global/uploads/restart/**"}
		c.ShutdownTimeout = time.Second
	}
	withVisibility := func(c *Config) {
		c.Events.SQS[0].VisibilityTimeout = 60 * time.Second
		c.Events.SQS[0].ExtendInterval = 20 * time.Second
	}
	a := startGateway(t, demoRules(t), withImages(func(c *ImagesConfig) { c.MaxWait = time.Minute }), r.withSQS, withVisibility, eager)
	hold, err := a.srv.admission.Acquire(context.Background(), a.srv.cfg.Images.BudgetMegapixels)
	if err != nil {
		t.Fatal(err)
	}
	defer hold()
	key := uniqueDir("global/uploads/restart") + "photo.jpg"
	uploadJPEG(t, key)
	r.send(s3Notification(demo.Bucket, key))
	waitFor(t, 30*time.Second, "the first gateway's render waiting for admission", func() bool {
		_, waiting := a.srv.admission.InUse()
		return waiting > 0
	})
	a.cancel()
	select {
	case err := <-a.done:
		a.done <- err // for the cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("first gateway did not shut down")
	}
	if n := sqsOutcome(a, queue.OutcomeReleased); n != 1 {
		t.Fatalf("released: %v, want 1", n)
	}
	if n := testutil.ToFloat64(a.srv.metrics.variantsStored); n != 0 {
		t.Fatalf("the stopped gateway stored %v variants, want 0", n)
	}
	b := startGateway(t, demoRules(t), withImages(), r.withSQS, withVisibility, eager)
	waitFor(t, 30*time.Second, "the released message done by the second gateway", func() bool { return sqsOutcome(b, queue.OutcomeDone) == 1 })
	if n := r.messages("uploads"); n != 0 {
		t.Fatalf("%d messages left, want 0", n)
	}
	if n := testutil.ToFloat64(b.srv.metrics.variantsStored); n != 3 {
		t.Fatalf("the second gateway stored %v variants, want 3", n)
	}
	for _, v := range variantsOf(key) {
		if !stored(t, v) {
			t.Errorf("variant %q not stored", v)
		}
	}
}

// events.sqs is validated with the rest of the config: each problem named
// with the queue's index.
func TestSQSConfigValidated(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"defaults", "events:\n  sqs:\n    - url: https://sqs.eu-west-1.amazonaws.com/1/uploads\n", ""},
		{"all set", "events:\n  sqs:\n    - url: http://127.0.0.1:4100/1/uploads\n      name: up\n      region: eu-west-1\n      endpoint: http://127.0.0.1:4101\n      wait_time: 5s\n      max_messages: 3\n      visibility_timeout: 30s\n      extend_interval: 10s\n      concurrency: 2\n", ""},
		{"no url", "events:\n  sqs:\n    - name: x\n", "events.sqs[0]: url"},
		{"max messages", "events:\n  sqs:\n    - url: https://sqs.eu-west-1.amazonaws.com/1/a\n      max_messages: 20\n", "events.sqs[0]: max_messages"},
		{"extend", "events:\n  sqs:\n    - url: https://sqs.eu-west-1.amazonaws.com/1/a\n      visibility_timeout: 10s\n      extend_interval: 10s\n", "events.sqs[0]: extend_interval"},
		{"same name", "events:\n  sqs:\n    - url: https://sqs.eu-west-1.amazonaws.com/1/a\n    - url: https://sqs.eu-west-2.amazonaws.com/1/a\n", "events.sqs[1]: name \"a\" used twice"},
		{"unknown field", "events:\n  sqs:\n    - url: https://sqs.eu-west-1.amazonaws.com/1/a\n      wait: 1s\n", `events.sqs[0].wait: unknown field (did you mean "wait_time"?)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseConfig("test.yaml", []byte("rules: rules.yaml\n"+c.yaml))
			if err == nil {
				err = cfg.Validate()
			}
			switch {
			case c.want == "" && err != nil && strings.Contains(err.Error(), "events.sqs"):
				t.Fatalf("valid events.sqs refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("err %v, want one with %q", err, c.want)
			}
		})
	}
}

// A removed source (ObjectRemoved through the queue, as versitygw names
// events: "s3:ObjectRemoved:Delete") has its stored variants deleted
// before the message is; an upload named "s3:ObjectCreated:Put" renders.
func TestSQSRemovedSourceDeletesVariants(t *testing.T) {
	r := newSQSRig(t, 2*time.Second)
	g := startGateway(t, demoRules(t), withImages(), r.withSQS, func(c *Config) { c.Events.Eager = []string{"global/uploads/removed/**"} })
	key := uniqueDir("global/uploads/removed") + "photo.jpg"
	uploadJPEG(t, key)
	r.send(strings.Replace(s3Notification(demo.Bucket, key), `"ObjectCreated:Put"`, `"s3:ObjectCreated:Put"`, 1))
	waitFor(t, 30*time.Second, "the upload done", func() bool { return sqsOutcome(g, queue.OutcomeDone) == 1 })
	for _, v := range variantsOf(key) {
		if !stored(t, v) {
			t.Fatalf("variant %q not stored", v)
		}
	}
	if _, err := demo.Client(testenv.S3(t)).DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(demo.Bucket), Key: &key}); err != nil {
		t.Fatal(err)
	}
	r.send(strings.Replace(s3Notification(demo.Bucket, key), `"ObjectCreated:Put"`, `"s3:ObjectRemoved:Delete"`, 1))
	waitFor(t, 30*time.Second, "the removal done", func() bool { return sqsOutcome(g, queue.OutcomeDone) == 2 })
	for _, v := range variantsOf(key) {
		if stored(t, v) {
			t.Errorf("variant %q of a removed source still stored", v)
		}
	}
	if n := r.messages("uploads"); n != 0 {
		t.Fatalf("%d messages left, want 0", n)
	}
}
