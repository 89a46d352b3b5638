package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/internal/testgateway"
	"github.com/edgegate/edgegate/queue"
)

// loadtest uploads against the real gateway consuming a real goaws queue
// (dead-letter queue after 2 receives) and writing to the real S3 server,
// rendering with libvips: every awaited message's variants are listed, the
// poison ones end in the dead-letter queue, the queue is empty, and the
// report says so in JSON, HTML and text.
func TestUploadsScenarioAgainstGateway(t *testing.T) {
	sqs := testenv.NewSQS(t, time.Second, testenv.SQSQueue{Name: "dead"},
		testenv.SQSQueue{Name: "uploads", DeadLetter: "dead", MaxReceiveCount: 2})
	cfg := testgateway.DemoConfig(t)
	cfg.Events.Eager = []string{"global/uploads/loadtest-e2e/**"}
	cfg.Events.SQS = []queue.Config{{URL: sqs.QueueURL("uploads"), Endpoint: sqs.Endpoint, WaitTime: time.Second,
		VisibilityTimeout: time.Second, ExtendInterval: 300 * time.Millisecond, Concurrency: 4}}
	testgateway.Start(t, cfg)
	t.Setenv("AWS_ACCESS_KEY_ID", demo.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", demo.SecretKey)
	t.Setenv("AWS_REGION", demo.Region)

	dir := t.TempDir()
	jsonOut, htmlOut := filepath.Join(dir, "run.json"), filepath.Join(dir, "run.html")
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"uploads",
		"--queue-url", sqs.QueueURL("uploads"), "--sqs-endpoint", sqs.Endpoint, "--dead-letter-url", sqs.QueueURL("dead"),
		"--s3-endpoint", testenv.S3(t), "--prefix", "global/uploads/loadtest-e2e/",
		"--count", "20", "--rate", "10", "--width", "640", "--height", "360",
		"--envelopes", "s3,sns,eventbridge", "--poison-every", "10", "--deadline", "20s", "--dead-letter-wait", "30s",
		"--json", jsonOut, "--report", htmlOut,
	}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, stderr.String())
	}
	b, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Schedule struct{ Intended, Sent, Missed uint64 } `json:"schedule"`
		Total    struct {
			Requests, Successes, Errors uint64
			Latency                     struct {
				P50 float64 `json:"p50_ms"`
				P99 float64 `json:"p99_ms"`
			}
		} `json:"total"`
		ByRequest map[string]struct{ Requests uint64 } `json:"by_request"`
		Uploads   struct {
			Messages, Poison, Lost, SendErrors int
			VariantsExpected                   int `json:"variants_expected"`
			VariantsStored                     int `json:"variants_stored"`
			DeadLetter                         int `json:"dead_letter"`
			QueueLeft                          int `json:"queue_left"`
		} `json:"uploads"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	u := rep.Uploads
	switch {
	case rep.Schedule.Intended != 20 || rep.Schedule.Sent != 20:
		t.Errorf("schedule %+v, want 20 due and sent", rep.Schedule)
	case u.Messages != 18 || u.Poison != 2:
		t.Errorf("%d messages awaited, %d poison; want 18 and 2", u.Messages, u.Poison)
	case u.Lost != 0 || u.SendErrors != 0 || rep.Total.Errors != 0 || rep.Total.Successes != 18:
		t.Errorf("lost %d, send errors %d, errors %d, successes %d: %s", u.Lost, u.SendErrors, rep.Total.Errors, rep.Total.Successes, b)
	case u.VariantsExpected != 54 || u.VariantsStored != 54:
		t.Errorf("variants stored %d of %d, want 54 of 54", u.VariantsStored, u.VariantsExpected)
	case u.DeadLetter != 2 || u.QueueLeft != 0:
		t.Errorf("dead-letter queue %d (want 2), left in queue %d (want 0)", u.DeadLetter, u.QueueLeft)
	case len(rep.ByRequest) != 3 || rep.ByRequest["sns"].Requests == 0:
		t.Errorf("by envelope: %v", rep.ByRequest)
	case !(rep.Total.Latency.P50 > 0 && rep.Total.Latency.P99 >= rep.Total.Latency.P50 && rep.Total.Latency.P99 < 20000):
		t.Errorf("lag p50 %v p99 %v ms", rep.Total.Latency.P50, rep.Total.Latency.P99)
	}
	html, err := os.ReadFile(htmlOut)
	if err != nil || !bytes.Contains(html, []byte("Uploads: message → variants in S3")) {
		t.Errorf("HTML report missing or without the uploads table (%v)", err)
	}
	if !strings.Contains(stdout.String(), "uploads: 18 messages awaited (+2 poison), lost 0") {
		t.Errorf("summary: %s", stdout.String())
	}
	t.Logf("%s", stdout.String())
}

func TestUploadsFlagsValidated(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{}, "--queue-url"},
		{[]string{"--queue-url", "http://q/1/u", "--rate", "0"}, "rate"},
		{[]string{"--queue-url", "http://q/1/u", "--count", "0"}, "count"},
		{[]string{"--queue-url", "http://q/1/u", "--envelopes", "lambda"}, "envelope"},
		{[]string{"--queue-url", "http://q/1/u", "--presets", "x=/abs/"}, "--presets"},
		{[]string{"--queue-url", "http://q/1/u", "--s3-endpoint", "localhost:1"}, "--s3-endpoint"},
		{[]string{"--queue-url", "http://q/1/u", "--run-id", "a/b"}, "--run-id"},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		_, err := ParseUploadsFlags(c.args, &stderr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want one naming %s", c.args, err, c.want)
		}
	}
	c, err := ParseUploadsFlags([]string{"--queue-url", "http://q/1/u", "--presets", "thumbnail,hero=heroes/,small"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.folders, ",") != "thumbnails/,heroes/,small/" || c.Rate != 50 || c.Count != 1000 || c.Envelopes[0] != "s3" {
		t.Errorf("parsed %+v", c)
	}
}
