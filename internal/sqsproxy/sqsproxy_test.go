package sqsproxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// A JSON-protocol call reaches the upstream as the same query-protocol
// call (lists numbered), and its XML answer or error comes back as JSON.
func TestTranslatesCallsAndAnswers(t *testing.T) {
	var got url.Values
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got = r.PostForm
		switch r.PostForm.Get("Action") {
		case "ReceiveMessage":
			w.Write([]byte(`<ReceiveMessageResponse><ReceiveMessageResult><Message><MessageId>m1</MessageId><ReceiptHandle>h1</ReceiptHandle>` +
				`<MD5OfBody>x</MD5OfBody><Body>{"a":1}</Body><Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>` +
				`</Message></ReceiveMessageResult></ReceiveMessageResponse>`))
		default:
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`<ErrorResponse><Error><Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>no queue</Message></Error></ErrorResponse>`))
		}
	}))
	defer up.Close()
	p := New(up.URL, nil)
	call := func(op, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		if op != "" {
			req.Header.Set("X-Amz-Target", "AmazonSQS."+op)
		}
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		return rec
	}
	rec := call("ReceiveMessage", `{"QueueUrl":"http://q/1/u","MaxNumberOfMessages":3,"MessageSystemAttributeNames":["ApproximateReceiveCount"]}`)
	if got.Get("QueueUrl") != "http://q/1/u" || got.Get("MaxNumberOfMessages") != "3" || got.Get("AttributeName.1") != "ApproximateReceiveCount" {
		t.Errorf("upstream got %v", got)
	}
	var out struct {
		Messages []struct {
			MessageId, ReceiptHandle, Body string
			Attributes                     map[string]string
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || len(out.Messages) != 1 {
		t.Fatalf("answer %s (%v)", rec.Body, err)
	}
	if m := out.Messages[0]; m.MessageId != "m1" || m.ReceiptHandle != "h1" || m.Body != `{"a":1}` || m.Attributes["ApproximateReceiveCount"] != "1" {
		t.Errorf("message %+v", m)
	}
	rec = call("DeleteMessage", `{"QueueUrl":"http://q/1/u","ReceiptHandle":"h1"}`)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"__type":"com.amazonaws.sqs#AWS.SimpleQueueService.NonExistentQueue"`) {
		t.Errorf("error answer %d %s", rec.Code, rec.Body)
	}
	if rec := call("", `{}`); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "InvalidAction") {
		t.Errorf("a call without X-Amz-Target: %d %s", rec.Code, rec.Body)
	}
	if n := p.Calls("ReceiveMessage"); n != 1 {
		t.Errorf("Calls(ReceiveMessage) = %d", n)
	}
}
