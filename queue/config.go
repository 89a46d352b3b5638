// Package queue consumes S3 upload events from Amazon SQS queues (or any
// server that speaks SQS's JSON protocol): long polling, the message
// bodies S3, SNS and EventBridge send (Decode), at-least-once delivery
// (a message is deleted only after its handler succeeded; its visibility
// is extended while the handler runs; a failed one is left for
// redelivery and, past the queue's maxReceiveCount, for its dead-letter
// queue), a bound on the messages in flight, and a graceful stop that
// finishes or releases them.
//
// It knows nothing of images, rules or HTTP: what a message means is the
// Handler's business.
package queue

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config is one queue to consume. The zero value of every field but URL
// means its default.
type Config struct {
	// URL is the queue's URL
	// (https://sqs.eu-west-1.amazonaws.com/123456789012/uploads). Required.
	URL string `yaml:"url"`
	// Name labels the queue in logs and metrics. Default: the URL's last
	// path segment.
	Name string `yaml:"name"`
	// Region of the queue. Default: from the URL's host
	// (sqs.REGION.amazonaws.com), else the S3 region.
	Region string `yaml:"region"`
	// Endpoint overrides the SQS endpoint (a local SQS-compatible server
	// in tests). Default: AWS's for the region.
	Endpoint string `yaml:"endpoint"`
	// WaitTime is the long-polling wait of each receive, 1s to 20s.
	// Default 20s.
	WaitTime time.Duration `yaml:"wait_time"`
	// MaxMessages is the most messages one receive asks for, 1 to 10.
	// Default 10.
	MaxMessages int `yaml:"max_messages"`
	// VisibilityTimeout hides a received message from other consumers
	// while it is handled; it is extended every ExtendInterval while the
	// handler runs, so it only needs to outlast a stalled consumer. 1s to
	// 12h, whole seconds. Default 60s.
	VisibilityTimeout time.Duration `yaml:"visibility_timeout"`
	// ExtendInterval is how often the visibility of a message in flight
	// is extended, less than VisibilityTimeout. Default a third of it.
	ExtendInterval time.Duration `yaml:"extend_interval"`
	// Concurrency bounds the messages in flight (received, not yet
	// deleted or released): polling stops while it is reached, so nothing
	// waits in memory. Default 10.
	Concurrency int `yaml:"concurrency"`
}

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.Name == "" {
		if u, err := url.Parse(c.URL); err == nil {
			c.Name = u.Path[strings.LastIndexByte(u.Path, '/')+1:]
		}
	}
	if c.Region == "" {
		c.Region = regionOf(c.URL)
	}
	if c.WaitTime == 0 {
		c.WaitTime = 20 * time.Second
	}
	if c.MaxMessages == 0 {
		c.MaxMessages = 10
	}
	if c.VisibilityTimeout == 0 {
		c.VisibilityTimeout = 60 * time.Second
	}
	if c.ExtendInterval == 0 {
		c.ExtendInterval = c.VisibilityTimeout / 3
	}
	if c.Concurrency == 0 {
		c.Concurrency = 10
	}
	return c
}

// regionOf reads the region from an AWS queue URL's host
// (sqs.eu-west-1.amazonaws.com, or the legacy eu-west-1.queue.amazonaws.com).
func regionOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) >= 4 && parts[0] == "sqs" && strings.HasPrefix(strings.Join(parts[2:], "."), "amazonaws.") {
		return parts[1]
	}
	if len(parts) >= 4 && parts[1] == "queue" && parts[2] == "amazonaws" {
		return parts[0]
	}
	return ""
}

// Validate reports every problem of c (after WithDefaults), prefixed with
// where: "events.sqs[0]".
func (c Config) Validate(where string) error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("config: %s: "+format, append([]any{where}, a...)...))
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(u.Path) < 2 {
		bad("url %q: want the queue's URL, https://sqs.REGION.amazonaws.com/ACCOUNT/NAME", c.URL)
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("endpoint %q: want http(s)://host[:port]", c.Endpoint)
		}
	}
	if c.WaitTime < time.Second || c.WaitTime > 20*time.Second || c.WaitTime%time.Second != 0 {
		bad("wait_time %s: want whole seconds from 1s to 20s", c.WaitTime)
	}
	if c.MaxMessages < 1 || c.MaxMessages > 10 {
		bad("max_messages %d: want 1 to 10", c.MaxMessages)
	}
	if c.VisibilityTimeout < time.Second || c.VisibilityTimeout > 12*time.Hour || c.VisibilityTimeout%time.Second != 0 {
		bad("visibility_timeout %s: want whole seconds from 1s to 12h", c.VisibilityTimeout)
	}
	if c.ExtendInterval <= 0 || c.ExtendInterval >= c.VisibilityTimeout {
		bad("extend_interval %s: want more than 0 and less than visibility_timeout (%s)", c.ExtendInterval, c.VisibilityTimeout)
	}
	if c.Concurrency < 1 {
		bad("concurrency %d: want at least 1", c.Concurrency)
	}
	return errors.Join(errs...)
}

// ErrNoRegion is returned by New for a queue whose region is neither set
// nor in its URL nor in the AWS configuration.
var ErrNoRegion = errors.New("queue: no region: set events.sqs[].region")
