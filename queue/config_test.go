package queue

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	c := Config{URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/uploads"}.WithDefaults()
	if c.Name != "uploads" || c.Region != "eu-west-1" || c.WaitTime != 20*time.Second || c.MaxMessages != 10 ||
		c.VisibilityTimeout != time.Minute || c.ExtendInterval != 20*time.Second || c.Concurrency != 10 {
		t.Fatalf("defaults: %+v", c)
	}
	if err := c.Validate("events.sqs[0]"); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no url", func(c *Config) { c.URL = "" }, "url"},
		{"relative url", func(c *Config) { c.URL = "uploads" }, "url"},
		{"endpoint", func(c *Config) { c.Endpoint = "localhost:4100" }, "endpoint"},
		{"wait", func(c *Config) { c.WaitTime = 21 * time.Second }, "wait_time"},
		{"wait fraction", func(c *Config) { c.WaitTime = 1500 * time.Millisecond }, "wait_time"},
		{"max messages", func(c *Config) { c.MaxMessages = 11 }, "max_messages"},
		{"visibility", func(c *Config) { c.VisibilityTimeout = 13 * time.Hour }, "visibility_timeout"},
		{"extend", func(c *Config) { c.ExtendInterval = c.VisibilityTimeout }, "extend_interval"},
		{"concurrency", func(c *Config) { c.Concurrency = -1 }, "concurrency"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			c := c
			b.mod(&c)
			err := c.Validate("events.sqs[0]")
			if err == nil || !strings.Contains(err.Error(), b.want) || !strings.Contains(err.Error(), "events.sqs[0]") {
				t.Fatalf("err %v, want one naming events.sqs[0] and %s", err, b.want)
			}
		})
	}
}
