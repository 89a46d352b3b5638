package snsverify

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Message types SNS sends to an HTTP/HTTPS endpoint.
const (
	TypeNotification             = "Notification"
	TypeSubscriptionConfirmation = "SubscriptionConfirmation"
	TypeUnsubscribeConfirmation  = "UnsubscribeConfirmation"
)

// ErrMalformed is Parse's error for a body that is no SNS message.
var ErrMalformed = errors.New("snsverify: not an SNS message")

// Message is an SNS HTTP(S) delivery, as its JSON body names the fields.
type Message struct {
	Type             string `json:"Type"`
	MessageID        string `json:"MessageId"`
	Token            string `json:"Token,omitempty"`
	TopicARN         string `json:"TopicArn"`
	Subject          string `json:"Subject,omitempty"`
	Message          string `json:"Message"`
	Timestamp        string `json:"Timestamp"`
	SignatureVersion string `json:"SignatureVersion"`
	Signature        string `json:"Signature"`
	SigningCertURL   string `json:"SigningCertURL"`
	SubscribeURL     string `json:"SubscribeURL,omitempty"`
	UnsubscribeURL   string `json:"UnsubscribeURL,omitempty"`

	// subjectSet: Subject was present (even empty), so it is signed.
	subjectSet bool
	time       time.Time
}

// Parse decodes an SNS message and checks that it has what its Type
// needs: MessageId, TopicArn, Timestamp (RFC 3339) and, for
// confirmations, Token and SubscribeURL. It does not verify the
// signature (Verifier.Verify does). Fields SNS may add are ignored.
func Parse(body []byte) (Message, error) {
	var raw struct {
		Message
		Subject *string `json:"Subject"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	m := raw.Message
	if raw.Subject != nil {
		m.Subject, m.subjectSet = *raw.Subject, true
	}
	var missing []string
	need := func(name, v string) {
		if v == "" {
			missing = append(missing, name)
		}
	}
	switch m.Type {
	case TypeNotification:
	case TypeSubscriptionConfirmation, TypeUnsubscribeConfirmation:
		need("Token", m.Token)
		need("SubscribeURL", m.SubscribeURL)
	case "":
		return Message{}, fmt.Errorf("%w: no Type", ErrMalformed)
	default:
		return Message{}, fmt.Errorf("%w: unknown Type %q", ErrMalformed, truncate(m.Type, 64))
	}
	need("MessageId", m.MessageID)
	need("TopicArn", m.TopicARN)
	need("Timestamp", m.Timestamp)
	if len(missing) > 0 {
		return Message{}, fmt.Errorf("%w: %s without %s", ErrMalformed, m.Type, strings.Join(missing, ", "))
	}
	t, err := time.Parse(time.RFC3339Nano, m.Timestamp)
	if err != nil {
		return Message{}, fmt.Errorf("%w: Timestamp %q is not RFC 3339", ErrMalformed, truncate(m.Timestamp, 64))
	}
	m.time = t
	return m, nil
}

// Time is the message's Timestamp.
func (m Message) Time() time.Time { return m.time }

// StringToSign is the text SNS signs: "Name\nvalue\n" for each signed
// field, in byte order of the names. A Notification signs Message,
// MessageId, Subject (when present), Timestamp, TopicArn and Type; a
// confirmation signs Message, MessageId, SubscribeURL, Timestamp, Token,
// TopicArn and Type.
func (m Message) StringToSign() string {
	var b strings.Builder
	add := func(name, v string) {
		b.WriteString(name)
		b.WriteByte('\n')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	add("Message", m.Message)
	add("MessageId", m.MessageID)
	if m.Type == TypeNotification {
		if m.subjectSet {
			add("Subject", m.Subject)
		}
	} else {
		add("SubscribeURL", m.SubscribeURL)
	}
	add("Timestamp", m.Timestamp)
	if m.Type != TypeNotification {
		add("Token", m.Token)
	}
	add("TopicArn", m.TopicARN)
	add("Type", m.Type)
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
