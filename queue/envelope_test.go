package queue

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
)

// s3Body is an S3 event notification for one upload, its key encoded as
// S3 encodes keys in events.
func s3Body(event, bucket, encodedKey string) string {
	return `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"` + event +
		`","s3":{"s3SchemaVersion":"1.0","bucket":{"name":"` + bucket + `","arn":"arn:aws:s3:::` + bucket +
		`"},"object":{"key":"` + encodedKey + `","size":1024,"eTag":"0123456789abcdef0123456789abcdef"}}}]}`
}

func snsBody(inner string) string {
	b, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "m1",
		"TopicArn": "arn:aws:sns:eu-west-1:123456789012:uploads", "Message": inner})
	return string(b)
}

func ebBody(detailType, bucket, key string) string {
	b, _ := json.Marshal(map[string]any{"version": "0", "id": "e1", "detail-type": detailType, "source": "aws.s3",
		"detail": map[string]any{"version": "0", "bucket": map[string]string{"name": bucket},
			"object": map[string]any{"key": key, "size": 1024, "etag": "0123456789abcdef0123456789abcdef"}}})
	return string(b)
}

// s3Encode encodes a key the way S3 does in event notifications
// (form encoding: a space is "+", a plus is %2B, "/" stays).
func s3Encode(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

func TestDecodeKeys(t *testing.T) {
	keys := []struct{ name, key, encoded string }{
		{"plain", "photos/a.jpg", "photos/a.jpg"},
		{"space", "photos/my photo.jpg", "photos/my+photo.jpg"},
		{"plus", "photos/a+b.jpg", "photos/a%2Bb.jpg"},
		{"percent", "photos/100%.jpg", "photos/100%25.jpg"},
		{"percent-looking", "photos/%41.jpg", "photos/%2541.jpg"},
		{"non-ascii", "photos/café/日本.jpg", "photos/caf%C3%A9/%E6%97%A5%E6%9C%AC.jpg"},
		{"all", "a b+c%d/é.jpg", "a+b%2Bc%25d/%C3%A9.jpg"},
	}
	for _, k := range keys {
		if got := s3Encode(k.key); got != k.encoded {
			t.Fatalf("%s: test encoder gives %q, S3 sends %q", k.name, got, k.encoded)
		}
		cases := []struct {
			envelope string
			body     string
			kind     Kind
		}{
			{"s3", s3Body("ObjectCreated:Put", "demo", k.encoded), KindS3},
			{"sns", snsBody(s3Body("ObjectCreated:Put", "demo", k.encoded)), KindSNS},
			// EventBridge sends keys as they are, not form-encoded.
			{"eventbridge", ebBody("Object Created", "demo", k.key), KindEventBridge},
			{"sns(eventbridge)", snsBody(ebBody("Object Created", "demo", k.key)), KindSNS},
		}
		for _, c := range cases {
			t.Run(k.name+"/"+c.envelope, func(t *testing.T) {
				m, err := Decode([]byte(c.body))
				if err != nil {
					t.Fatal(err)
				}
				if m.Kind != c.kind || len(m.Records) != 1 {
					t.Fatalf("kind %v, %d records; want %v, 1", m.Kind, len(m.Records), c.kind)
				}
				r := m.Records[0]
				if r.Key != k.key || r.Bucket != "demo" || !r.Created || r.ETag != "0123456789abcdef0123456789abcdef" {
					t.Fatalf("record %+v; want key %q in demo, created", r, k.key)
				}
			})
		}
	}
}

func TestDecodeEnvelopes(t *testing.T) {
	testEvent := `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-30T10:00:00.000Z","Bucket":"demo","RequestId":"R","HostId":"H"}`
	cases := []struct {
		name    string
		body    string
		kind    Kind
		records int
		created bool
		removed bool
		err     bool
	}{
		{"test event", testEvent, KindTestEvent, 0, false, false, false},
		{"test event in sns", snsBody(testEvent), KindSNS, 0, false, false, false},
		{"removed", s3Body("ObjectRemoved:Delete", "demo", "a.jpg"), KindS3, 1, false, true, false},
		{"s3-prefixed names", s3Body("s3:ObjectCreated:Put", "demo", "a.jpg"), KindS3, 1, true, false, false},
		{"s3-prefixed removed", s3Body("s3:ObjectRemoved:Delete", "demo", "a.jpg"), KindS3, 1, false, true, false},
		{"restored", s3Body("ObjectRestore:Completed", "demo", "a.jpg"), KindS3, 1, false, false, false},
		{"eventbridge deleted", ebBody("Object Deleted", "demo", "a.jpg"), KindEventBridge, 1, false, true, false},
		{"two records", `{"Records":[` + strings.TrimSuffix(strings.TrimPrefix(s3Body("ObjectCreated:Put", "demo", "a.jpg"), `{"Records":[`), `]}`) +
			"," + strings.TrimSuffix(strings.TrimPrefix(s3Body("ObjectCreated:Copy", "demo", "b.jpg"), `{"Records":[`), `]}`) + `]}`, KindS3, 2, true, false, false},
		{"empty records", `{"Records":[]}`, KindS3, 0, false, false, false},
		{"not json", `hello`, 0, 0, false, false, true},
		{"unknown", `{"hello":"world"}`, 0, 0, false, false, true},
		{"bad escape", s3Body("ObjectCreated:Put", "demo", "a%zz.jpg"), 0, 0, false, false, true},
		{"no key", s3Body("ObjectCreated:Put", "demo", ""), 0, 0, false, false, true},
		{"eventbridge no detail", `{"detail-type":"Object Created","source":"aws.s3"}`, 0, 0, false, false, true},
		{"sns not json inside", snsBody("hello"), 0, 0, false, false, true},
		{"sns in sns", snsBody(snsBody(testEvent)), 0, 0, false, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Decode([]byte(c.body))
			if (err != nil) != c.err {
				t.Fatalf("err %v, want error %v", err, c.err)
			}
			if c.err {
				return
			}
			if m.Kind != c.kind || len(m.Records) != c.records {
				t.Fatalf("kind %v with %d records; want %v with %d", m.Kind, len(m.Records), c.kind, c.records)
			}
			for _, r := range m.Records {
				if r.Created != c.created || r.Removed != c.removed {
					t.Fatalf("record %+v: created %v removed %v, want %v and %v", r, r.Created, r.Removed, c.created, c.removed)
				}
			}
		})
	}
	if _, err := Decode([]byte(`{"a":1}`)); !errors.Is(err, ErrUnknownEnvelope) {
		t.Fatalf("unknown envelope: %v, want ErrUnknownEnvelope", err)
	}
}

// FuzzDecode: any body decodes or fails without panicking; a decoded S3
// record's key, encoded again as S3 does, decodes to itself.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		s3Body("ObjectCreated:Put", "demo", "a+b%2Bc%25d/%C3%A9.jpg"),
		snsBody(s3Body("ObjectCreated:Put", "demo", "x.jpg")),
		ebBody("Object Created", "demo", "a b.jpg"),
		`{"Event":"s3:TestEvent"}`, `{"Records":null}`, `{"Type":"Notification","Message":"{}"}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Decode(body)
		if err != nil {
			return
		}
		for _, r := range m.Records {
			if r.Bucket == "" || r.Key == "" {
				t.Fatalf("record without bucket or key: %+v", r)
			}
			if m.Kind == KindS3 || m.Inner == KindS3 {
				back, err := Decode([]byte(s3Body("ObjectCreated:Put", "b", jsonString(s3Encode(r.Key)))))
				if err != nil || back.Records[0].Key != r.Key {
					t.Fatalf("key %q: re-encoded decodes to %+v, %v", r.Key, back, err)
				}
			}
		}
	})
}

// jsonString is s as the inside of a JSON string literal.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
