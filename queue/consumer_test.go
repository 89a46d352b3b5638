package queue

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

func awsConfig() aws.Config {
	return aws.Config{Region: demo.Region,
		Credentials: credentials.NewStaticCredentialsProvider(demo.AccessKey, demo.SecretKey, "")}
}

// queueLen is the queue's visible plus in-flight message count.
func queueLen(t *testing.T, c *sqs.Client, url string) int {
	t.Helper()
	out, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{"ApproximateNumberOfMessages"}})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	return n
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConsumerAgainstGoaws: a handled message is deleted, the test event
// too; a failing one comes again until the redrive policy moves it to the
// dead-letter queue; a shutdown releases what is in flight at once.
func TestConsumerAgainstGoaws(t *testing.T) {
	s := testenv.NewSQS(t, 2*time.Second,
		testenv.SQSQueue{Name: "dlq"}, testenv.SQSQueue{Name: "uploads", DeadLetter: "dlq", MaxReceiveCount: 2})
	client := sqs.NewFromConfig(awsConfig(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.Endpoint) })
	url := s.QueueURL("uploads")
	send := func(body string) {
		t.Helper()
		if _, err := client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	outcomes := map[string]int{}
	count := func(o string) int { mu.Lock(); defer mu.Unlock(); return outcomes[o] }
	var calls atomic.Int32
	block := make(chan struct{})
	h := func(ctx context.Context, m Message) error {
		calls.Add(1)
		switch m.Records[0].Key {
		case "poison.jpg":
			return errors.New("cannot render")
		case "slow.jpg":
			select {
			case <-block:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	cfg := Config{URL: url, Endpoint: s.Endpoint, WaitTime: time.Second, VisibilityTimeout: 2 * time.Second,
		ExtendInterval: 500 * time.Millisecond, Concurrency: 2}
	c, err := New(cfg, awsConfig(), h, Options{Observe: func(_, o string) { mu.Lock(); outcomes[o]++; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	if c.maxReceive != 2 {
		t.Fatalf("maxReceiveCount read as %d, want 2", c.maxReceive)
	}
	send(`{"Event":"s3:TestEvent"}`)
	send(s3Body("ObjectCreated:Put", "demo", "a.jpg"))
	waitFor(t, "the test event and the upload deleted", 20*time.Second, func() bool {
		return count(OutcomeTestEvent) == 1 && count(OutcomeDone) == 1 && queueLen(t, client, url) == 0
	})
	send(s3Body("ObjectCreated:Put", "demo", "poison.jpg"))
	dlq := s.QueueURL("dlq")
	waitFor(t, "the poison message in the dead-letter queue", 60*time.Second, func() bool { return queueLen(t, client, dlq) == 1 })
	if n := count(OutcomeFailed); n < 2 {
		t.Fatalf("poison message failed %d times before the dead-letter queue, want at least 2 (maxReceiveCount)", n)
	}
	// A render that outlasts the visibility timeout several times over is
	// not delivered twice: its visibility is extended.
	before := calls.Load()
	send(s3Body("ObjectCreated:Put", "demo", "slow.jpg"))
	waitFor(t, "the slow message in flight", 20*time.Second, func() bool { return calls.Load() == before+1 })
	// Ten extensions every 0.5s: 2.5 visibility timeouts, after which an
	// unextended message would have been delivered again.
	extended := s.Calls("ChangeMessageVisibility")
	waitFor(t, "ten visibility extensions", 20*time.Second, func() bool { return s.Calls("ChangeMessageVisibility") >= extended+10 })
	if calls.Load() != before+1 {
		t.Fatalf("slow message handled %d times while in flight, want once", calls.Load()-before)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c.Shutdown(ctx)
	if count(OutcomeReleased) != 1 {
		t.Fatalf("outcomes %v: want the slow message released", outcomes)
	}
	// Released: a new consumer gets it at once, not after a visibility timeout.
	close(block)
	c2, err := New(cfg, awsConfig(), h, Options{Observe: func(_, o string) { mu.Lock(); outcomes[o]++; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	c2.Start()
	defer c2.Shutdown(context.Background())
	waitFor(t, "the released message handled by a new consumer", 20*time.Second, func() bool {
		return count(OutcomeDone) == 2 && queueLen(t, client, url) == 0
	})
}

// The dead_letter outcome (and its log line) comes with a failure at the
// queue's maxReceiveCount, read from ApproximateReceiveCount; goaws always
// reports 1, so this part is tested alone.
func TestDeadLetterAtMaxReceiveCount(t *testing.T) {
	var got []string
	c := &Consumer{cfg: Config{Name: "q"}, maxReceive: 3, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		observe: func(_, o string) { got = append(got, o) }}
	for _, received := range []int{1, 2, 3, 4} {
		c.deadLetter("id", received, errors.New("x"))
	}
	if len(got) != 2 || got[0] != OutcomeDeadLetter {
		t.Fatalf("outcomes %v: want dead_letter at receive counts 3 and 4", got)
	}
	c.maxReceive = 0 // no redrive policy
	got = nil
	c.deadLetter("id", 100, errors.New("x"))
	if len(got) != 0 {
		t.Fatalf("without a redrive policy: %v", got)
	}
}
