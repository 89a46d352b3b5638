// Package uploads is loadtest's uploads scenario, the upload path driven
// end to end: sources put in S3, their S3 event notifications sent to an
// SQS queue at a fixed rate (as S3 sends them, or wrapped by SNS, or as
// EventBridge sends them), and for each message the time from its send
// to the last of its variants being visible in S3 (Watcher, which lists
// the variant folders). It knows nothing of the gateway but the variant
// keys it writes (folder + source key + extension).
package uploads

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Envelopes a message body can be sent in.
const (
	EnvelopeS3          = "s3"          // the S3 event notification, as S3 sends it to SQS
	EnvelopeSNS         = "sns"         // an SNS Notification whose Message is the S3 notification
	EnvelopeEventBridge = "eventbridge" // an EventBridge "Object Created" event
)

// Envelopes lists the envelopes Body knows.
var Envelopes = []string{EnvelopeS3, EnvelopeSNS, EnvelopeEventBridge}

// Object is an uploaded source as its event describes it.
type Object struct {
	Region, Bucket, Key string
	ETag                string // without quotes
	Size                int64
	Time                time.Time
	Sequencer           string // hex, increasing per key
}

// EncodeKey encodes a key as S3 does in event notifications: form
// encoding ("+" for a space, %XX for other bytes) with "/" kept.
func EncodeKey(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

// Body is the message body for an upload of o in envelope env, with the
// fields AWS sends (so a consumer that reads more than edgegate does
// still finds them).
func Body(env string, o Object) (string, error) {
	ts := o.Time.UTC().Format("2006-01-02T15:04:05.000Z")
	s3 := map[string]any{
		"Records": []any{map[string]any{
			"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": o.Region, "eventTime": ts,
			"eventName":         "ObjectCreated:Put",
			"userIdentity":      map[string]string{"principalId": "AWS:LOADTEST"},
			"requestParameters": map[string]string{"sourceIPAddress": "127.0.0.1"},
			"responseElements":  map[string]string{"x-amz-request-id": "LOADTEST", "x-amz-id-2": "LOADTEST"},
			"s3": map[string]any{
				"s3SchemaVersion": "1.0", "configurationId": "edgegate-uploads",
				"bucket": map[string]any{"name": o.Bucket, "ownerIdentity": map[string]string{"principalId": "LOADTEST"},
					"arn": "arn:aws:s3:::" + o.Bucket},
				"object": map[string]any{"key": EncodeKey(o.Key), "size": o.Size, "eTag": o.ETag, "sequencer": o.Sequencer},
			},
		}},
	}
	switch env {
	case EnvelopeS3:
		return marshal(s3)
	case EnvelopeSNS:
		inner, err := marshal(s3)
		if err != nil {
			return "", err
		}
		return marshal(map[string]any{
			"Type": "Notification", "MessageId": o.Sequencer, "Subject": "Amazon S3 Notification",
			"TopicArn": "arn:aws:sns:" + o.Region + ":100010001000:uploads", "Message": inner, "Timestamp": ts,
			"SignatureVersion": "1", "Signature": "", "SigningCertURL": "", "UnsubscribeURL": "",
		})
	case EnvelopeEventBridge:
		return marshal(map[string]any{
			"version": "0", "id": o.Sequencer, "detail-type": "Object Created", "source": "aws.s3",
			"account": "100010001000", "time": o.Time.UTC().Format(time.RFC3339), "region": o.Region,
			"resources": []string{"arn:aws:s3:::" + o.Bucket},
			"detail": map[string]any{
				"version": "0", "bucket": map[string]string{"name": o.Bucket},
				"object":     map[string]any{"key": o.Key, "size": o.Size, "etag": o.ETag, "sequencer": o.Sequencer},
				"request-id": "LOADTEST", "requester": "100010001000", "source-ip-address": "127.0.0.1", "reason": "PutObject",
			},
		})
	}
	return "", fmt.Errorf("uploads: unknown envelope %q: want one of %v", env, Envelopes)
}

func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("uploads: %w", err)
	}
	return string(b), nil
}
