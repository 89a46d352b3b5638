// Package sqsproxy serves SQS's JSON protocol (what aws-sdk-go-v2 sends:
// POST with X-Amz-Target: AmazonSQS.Op and a JSON body) by making the
// same call to an SQS server that speaks only the older query protocol
// (form-encoded requests, XML answers), such as goaws v0.4.5, the newest
// the Go module proxy serves. It passes each call through and changes
// only the encoding; it keeps no state but call counts.
//
// internal/testenv puts it in front of the goaws of a test
// (testenv.NewSQS); bench/sqsproxy runs it as a command for
// scripts/bench-uploads.sh.
package sqsproxy

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Proxy is an http.Handler translating JSON-protocol calls for the
// query-protocol server at Upstream. Safe for concurrent use.
type Proxy struct {
	upstream string
	client   *http.Client

	mu    sync.Mutex
	calls map[string]int // by operation
}

// New returns a proxy for the query-protocol SQS server at upstream
// (http://127.0.0.1:4100), calling it with client (http.DefaultClient
// when nil).
func New(upstream string, client *http.Client) *Proxy {
	if client == nil {
		client = http.DefaultClient
	}
	return &Proxy{upstream: strings.TrimRight(upstream, "/"), client: client, calls: map[string]int{}}
}

// Calls is how many op calls (ChangeMessageVisibility, …) the proxy has
// passed upstream so far.
func (p *Proxy) Calls(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[op]
}

// ServeHTTP serves one JSON-protocol call by making the same call
// upstream in the query protocol.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	var in map[string]any
	if !ok || json.NewDecoder(r.Body).Decode(&in) != nil {
		writeError(w, http.StatusBadRequest, "InvalidAction", "want a JSON-protocol SQS call")
		return
	}
	p.mu.Lock()
	p.calls[op]++
	p.mu.Unlock()
	form := url.Values{"Action": {op}, "Version": {"2012-11-05"}}
	for k, v := range in {
		switch v := v.(type) {
		case string:
			form.Set(k, v)
		case float64:
			form.Set(k, strconv.FormatInt(int64(v), 10))
		case []any: // AttributeNames, MessageSystemAttributeNames
			name := strings.TrimSuffix(k, "s")
			if k == "MessageSystemAttributeNames" {
				name = "AttributeName"
			}
			for i, e := range v {
				form.Set(name+"."+strconv.Itoa(i+1), fmt.Sprint(e))
			}
		}
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, p.upstream+"/", strings.NewReader(form.Encode()))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.client.Do(req)
	if err != nil {
		writeError(w, http.StatusBadGateway, "ServiceUnavailable", err.Error())
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code    string `xml:"Error>Code"`
			Message string `xml:"Error>Message"`
		}
		_ = xml.Unmarshal(body, &e)
		writeError(w, resp.StatusCode, e.Code, e.Message)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(translateAnswer(op, body))
}

// translateAnswer turns op's XML answer into its JSON-protocol form.
func translateAnswer(op string, body []byte) any {
	switch op {
	case "ReceiveMessage":
		var x struct {
			Messages []struct {
				MessageId, ReceiptHandle, MD5OfBody, Body string
				Attribute                                 []struct{ Name, Value string }
			} `xml:"ReceiveMessageResult>Message"`
		}
		_ = xml.Unmarshal(body, &x)
		msgs := []map[string]any{}
		for _, m := range x.Messages {
			attrs := map[string]string{}
			for _, a := range m.Attribute {
				attrs[a.Name] = a.Value
			}
			msgs = append(msgs, map[string]any{"MessageId": m.MessageId, "ReceiptHandle": m.ReceiptHandle,
				"MD5OfBody": m.MD5OfBody, "Body": m.Body, "Attributes": attrs})
		}
		return map[string]any{"Messages": msgs}
	case "GetQueueAttributes":
		var x struct {
			Attribute []struct{ Name, Value string } `xml:"GetQueueAttributesResult>Attribute"`
		}
		_ = xml.Unmarshal(body, &x)
		attrs := map[string]string{}
		for _, a := range x.Attribute {
			attrs[a.Name] = a.Value
		}
		return map[string]any{"Attributes": attrs}
	case "SendMessage":
		var x struct {
			MessageId        string `xml:"SendMessageResult>MessageId"`
			MD5OfMessageBody string `xml:"SendMessageResult>MD5OfMessageBody"`
		}
		_ = xml.Unmarshal(body, &x)
		return map[string]string{"MessageId": x.MessageId, "MD5OfMessageBody": x.MD5OfMessageBody}
	case "GetQueueUrl":
		var x struct {
			QueueUrl string `xml:"GetQueueUrlResult>QueueUrl"`
		}
		_ = xml.Unmarshal(body, &x)
		return map[string]string{"QueueUrl": x.QueueUrl}
	}
	return map[string]any{} // DeleteMessage, ChangeMessageVisibility, PurgeQueue: no output
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	if code == "" {
		code = "InternalError"
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + code, "message": msg})
}
