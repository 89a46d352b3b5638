package queue

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Handler does what one message asks. It returns nil when the message is
// done (its work succeeded, or there is nothing to do), and the message
// is then deleted; an error leaves it for redelivery. It must return
// soon after ctx is cancelled (a stop past its deadline).
type Handler func(ctx context.Context, m Message) error

// Outcomes of a message, as given to Options.Observe.
const (
	OutcomeDone         = "done"          // handled and deleted
	OutcomeTestEvent    = "test_event"    // s3:TestEvent, deleted
	OutcomeFailed       = "failed"        // handler failed: left for redelivery
	OutcomeDeadLetter   = "dead_letter"   // failed at the queue's maxReceiveCount: the redrive policy moves it to the dead-letter queue
	OutcomeMalformed    = "malformed"     // a body Decode refuses: left for the dead-letter queue
	OutcomeReleased     = "released"      // stopped before it finished: visible again at once
	OutcomeDeleteFailed = "delete_failed" // done, but the delete failed: it will come again (handled again, harmlessly)
)

// Options are a consumer's collaborators.
type Options struct {
	Log *slog.Logger
	// Observe, when set, is told each message's outcome (the Outcome*
	// constants) and each failed receive ("receive_error").
	Observe func(queue, outcome string)
}

// Consumer receives one queue's messages and hands them to a Handler. Its
// methods are safe for concurrent use; Start once, then Shutdown once.
type Consumer struct {
	cfg     Config
	client  *sqs.Client
	handle  Handler
	log     *slog.Logger
	observe func(queue, outcome string)

	slots      chan struct{} // one per message in flight
	maxReceive int           // the queue's redrive maxReceiveCount; 0: none known

	recvCtx    context.Context // ends when receiving stops
	stopRecv   context.CancelFunc
	workCtx    context.Context // ends when messages in flight are given up
	cancelWork context.CancelFunc
	polling    sync.WaitGroup
	inFlight   sync.WaitGroup
}

// New builds a consumer of the queue cfg (defaults applied, validated)
// with the credentials of awsCfg.
func New(cfg Config, awsCfg aws.Config, h Handler, o Options) (*Consumer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate("queue"); err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = awsCfg.Region
	}
	if cfg.Region == "" {
		return nil, ErrNoRegion
	}
	client := sqs.NewFromConfig(awsCfg, func(opt *sqs.Options) {
		opt.Region = cfg.Region
		if cfg.Endpoint != "" {
			opt.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Observe == nil {
		o.Observe = func(string, string) {}
	}
	c := &Consumer{cfg: cfg, client: client, handle: h, log: o.Log.With("queue", cfg.Name),
		observe: o.Observe, slots: make(chan struct{}, cfg.Concurrency)}
	c.recvCtx, c.stopRecv = context.WithCancel(context.Background())
	c.workCtx, c.cancelWork = context.WithCancel(context.Background())
	return c, nil
}

// Name is the queue's name in logs and metrics.
func (c *Consumer) Name() string { return c.cfg.Name }

// Start reads the queue's redrive policy and starts polling.
func (c *Consumer) Start() {
	c.maxReceive = c.redriveMax()
	c.polling.Add(1)
	go c.poll()
}

// Shutdown stops receiving, waits for the messages in flight until ctx
// ends, then cancels the handlers still running and makes their messages
// visible again at once, and returns when every handler has returned.
func (c *Consumer) Shutdown(ctx context.Context) error {
	c.stopRecv()
	c.polling.Wait()
	done := make(chan struct{})
	go func() { c.inFlight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	c.cancelWork()
	<-done
	return nil
}

// redriveMax reads maxReceiveCount from the queue's RedrivePolicy (0
// without one, or when it cannot be read).
func (c *Consumer) redriveMax() int {
	ctx, cancel := context.WithTimeout(c.recvCtx, 10*time.Second)
	defer cancel()
	out, err := c.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &c.cfg.URL,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy}})
	if err != nil {
		c.log.Warn("sqs: cannot read the queue's redrive policy; dead-letter moves will not be logged", "err", err)
		return 0
	}
	var p struct {
		MaxReceiveCount json.RawMessage `json:"maxReceiveCount"` // a number, or a string holding one
	}
	raw := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]
	if raw == "" || json.Unmarshal([]byte(raw), &p) != nil {
		return 0
	}
	s := string(p.MaxReceiveCount)
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	n, _ := strconv.Atoi(s)
	return n
}

// poll receives while slots are free: it waits for one before each
// receive and asks for no more messages than there are free slots.
func (c *Consumer) poll() {
	defer c.polling.Done()
	backoff := time.Second
	for {
		select {
		case c.slots <- struct{}{}:
		case <-c.recvCtx.Done():
			return
		}
		n := 1
	more:
		for n < c.cfg.MaxMessages {
			select {
			case c.slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		out, err := c.client.ReceiveMessage(c.recvCtx, &sqs.ReceiveMessageInput{
			QueueUrl:                    &c.cfg.URL,
			MaxNumberOfMessages:         int32(n),
			WaitTimeSeconds:             int32(c.cfg.WaitTime / time.Second),
			VisibilityTimeout:           int32(c.cfg.VisibilityTimeout / time.Second),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
		})
		got := 0
		if err == nil {
			got = len(out.Messages)
		}
		for range n - got {
			<-c.slots
		}
		if err != nil {
			if c.recvCtx.Err() != nil {
				return
			}
			c.observe(c.cfg.Name, "receive_error")
			c.log.Warn("sqs: receive failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-c.recvCtx.Done():
				return
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		for _, m := range out.Messages {
			c.inFlight.Add(1)
			go c.process(m)
		}
	}
}

// process handles one message and deletes, leaves or releases it.
func (c *Consumer) process(msg types.Message) {
	defer func() { <-c.slots; c.inFlight.Done() }()
	id := aws.ToString(msg.MessageId)
	received, _ := strconv.Atoi(msg.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	m, err := Decode([]byte(aws.ToString(msg.Body)))
	switch {
	case err != nil:
		c.log.Warn("sqs: message not understood; left for the dead-letter queue", "id", id, "err", err)
		c.observe(c.cfg.Name, OutcomeMalformed)
		c.deadLetter(id, received, err)
		return
	case m.Kind == KindTestEvent:
		c.delete(msg, OutcomeTestEvent)
		return
	}
	err = c.run(msg, m)
	switch {
	case err == nil:
		c.delete(msg, OutcomeDone)
	case c.workCtx.Err() != nil:
		c.release(msg)
	default:
		c.log.Warn("sqs: message failed; left for redelivery", "id", id, "receive_count", received, "err", err)
		c.observe(c.cfg.Name, OutcomeFailed)
		c.deadLetter(id, received, err)
	}
}

// run calls the handler, extending the message's visibility every
// ExtendInterval until it returns.
func (c *Consumer) run(msg types.Message, m Message) error {
	ctx, cancel := context.WithCancel(c.workCtx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.handle(ctx, m) }()
	t := time.NewTicker(c.cfg.ExtendInterval)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-t.C:
			vctx, vcancel := context.WithTimeout(ctx, c.cfg.ExtendInterval)
			_, err := c.client.ChangeMessageVisibility(vctx, &sqs.ChangeMessageVisibilityInput{
				QueueUrl: &c.cfg.URL, ReceiptHandle: msg.ReceiptHandle,
				VisibilityTimeout: int32(c.cfg.VisibilityTimeout / time.Second)})
			vcancel()
			if err != nil && ctx.Err() == nil {
				c.log.Warn("sqs: visibility not extended", "id", aws.ToString(msg.MessageId), "err", err)
			}
		}
	}
}

// deadLetter logs a failure at the queue's maxReceiveCount: the redrive
// policy moves the message to the dead-letter queue instead of
// delivering it again.
func (c *Consumer) deadLetter(id string, received int, err error) {
	if c.maxReceive > 0 && received >= c.maxReceive {
		c.log.Error("sqs: message failed its last delivery; the queue's redrive policy moves it to the dead-letter queue",
			"id", id, "receive_count", received, "max_receive_count", c.maxReceive, "err", err)
		c.observe(c.cfg.Name, OutcomeDeadLetter)
	}
}

// delete removes a finished message. It does not depend on the stop: a
// message done during a shutdown is still deleted.
func (c *Consumer) delete(msg types.Message, outcome string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &c.cfg.URL, ReceiptHandle: msg.ReceiptHandle}); err != nil {
		c.log.Warn("sqs: delete failed; the message will come again", "id", aws.ToString(msg.MessageId), "err", err)
		c.observe(c.cfg.Name, OutcomeDeleteFailed)
		return
	}
	c.observe(c.cfg.Name, outcome)
}

// release makes a message given up at shutdown visible again at once.
func (c *Consumer) release(msg types.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: &c.cfg.URL, ReceiptHandle: msg.ReceiptHandle, VisibilityTimeout: 0})
	if err != nil {
		c.log.Warn("sqs: release failed; the message comes back after its visibility timeout", "id", aws.ToString(msg.MessageId), "err", err)
	}
	c.observe(c.cfg.Name, OutcomeReleased)
}
