package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Kind says how a message body was wrapped.
type Kind uint8

// The envelopes Decode understands.
const (
	KindS3          Kind = iota + 1 // S3 event notification JSON, as S3 sends it to SQS
	KindSNS                         // an SNS Notification whose Message holds one of the others
	KindEventBridge                 // an EventBridge event from aws.s3 (detail-type "Object Created", …)
	KindTestEvent                   // s3:TestEvent, sent when notifications are configured
)

func (k Kind) String() string {
	switch k {
	case KindS3:
		return "s3"
	case KindSNS:
		return "sns"
	case KindEventBridge:
		return "eventbridge"
	case KindTestEvent:
		return "test_event"
	}
	return "unknown"
}

// Record is one object event of a message.
type Record struct {
	// Event is the event's name as sent: "ObjectCreated:Put" in S3
	// notifications, the detail-type ("Object Created") from EventBridge.
	Event string
	// Created is true for uploads (ObjectCreated:*, Object Created).
	Created bool
	// Removed is true for deletes (ObjectRemoved:*, Object Deleted).
	Removed bool
	Bucket  string
	// Key is the object key decoded: S3 notifications form-encode it
	// ("+" for a space, %XX for other bytes); EventBridge sends it as is.
	Key string
	// ETag is the uploaded version's ETag as the event names it (without
	// quotes; may be empty).
	ETag string
}

// Message is a decoded message body.
type Message struct {
	// Kind is the outermost envelope; Inner the one an SNS notification
	// wrapped (0 otherwise).
	Kind, Inner Kind
	Records     []Record
}

// envelope is the union of the fields Decode looks at in every envelope.
// encoding/json matches names without regard to case, so the checks
// below use the exact values S3, SNS and EventBridge send.
type envelope struct {
	Records []struct {
		EventName string `json:"eventName"`
		S3        struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key  string `json:"key"`
				ETag string `json:"eTag"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
	Event      string  `json:"Event"`   // s3:TestEvent
	Type       string  `json:"Type"`    // SNS: Notification
	Message    *string `json:"Message"` // SNS: the wrapped body
	DetailType string  `json:"detail-type"`
	Source     string  `json:"source"`
	Detail     *struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key  string `json:"key"`
			ETag string `json:"etag"`
		} `json:"object"`
	} `json:"detail"`
}

// ErrUnknownEnvelope is returned for a JSON body that is none of the
// envelopes Decode understands.
var ErrUnknownEnvelope = errors.New("queue: not an S3 notification, SNS notification, EventBridge event or s3:TestEvent")

// Decode reads a message body in any of the envelopes S3 events reach a
// queue in: the S3 notification itself, an SNS notification wrapping it
// (or an EventBridge event), an EventBridge event, or the s3:TestEvent
// (Kind KindTestEvent, no records). Keys are decoded as each sender
// encodes them. It never panics on any input.
func Decode(body []byte) (Message, error) {
	return decode(body, 0)
}

func decode(body []byte, depth int) (Message, error) {
	var e envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return Message{}, fmt.Errorf("queue: message body: %w", err)
	}
	switch {
	case e.Type == "Notification" && e.Message != nil:
		if depth > 0 {
			return Message{}, errors.New("queue: an SNS notification inside an SNS notification")
		}
		inner, err := decode([]byte(*e.Message), depth+1)
		if err != nil {
			return Message{}, fmt.Errorf("queue: SNS Message: %w", err)
		}
		return Message{Kind: KindSNS, Inner: inner.Kind, Records: inner.Records}, nil
	case e.Event == "s3:TestEvent":
		return Message{Kind: KindTestEvent}, nil
	case e.DetailType != "" && e.Source == "aws.s3":
		if e.Detail == nil || e.Detail.Bucket.Name == "" || e.Detail.Object.Key == "" {
			return Message{}, errors.New("queue: EventBridge event without detail.bucket.name and detail.object.key")
		}
		return Message{Kind: KindEventBridge, Records: []Record{{
			Event: e.DetailType, Created: e.DetailType == "Object Created", Removed: e.DetailType == "Object Deleted",
			Bucket: e.Detail.Bucket.Name, Key: e.Detail.Object.Key, ETag: e.Detail.Object.ETag,
		}}}, nil
	case e.Records != nil:
		m := Message{Kind: KindS3, Records: make([]Record, 0, len(e.Records))}
		for i, r := range e.Records {
			if r.S3.Bucket.Name == "" || r.S3.Object.Key == "" {
				return Message{}, fmt.Errorf("queue: record %d: no s3.bucket.name or s3.object.key", i)
			}
			key, err := url.QueryUnescape(r.S3.Object.Key) // "+" is a space, %2B a plus
			if err != nil {
				return Message{}, fmt.Errorf("queue: record %d: key %q: %w", i, r.S3.Object.Key, err)
			}
			name := strings.TrimPrefix(r.EventName, "s3:") // as S3-compatible servers (versitygw) name them
			m.Records = append(m.Records, Record{
				Event: r.EventName, Created: strings.HasPrefix(name, "ObjectCreated:"), Removed: strings.HasPrefix(name, "ObjectRemoved:"),
				Bucket: r.S3.Bucket.Name, Key: key, ETag: r.S3.Object.ETag,
			})
		}
		return m, nil
	}
	return Message{}, ErrUnknownEnvelope
}
