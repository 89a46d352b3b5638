package testenv

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/demo"
)

// SQSQueue is a queue NewSQS creates; with DeadLetter set (a queue listed
// before or after it) its redrive policy moves a message there once it
// has been received more than MaxReceiveCount times.
type SQSQueue struct {
	Name            string
	DeadLetter      string
	MaxReceiveCount int
}

// SQS is a private goaws (github.com/Admiral-Piett/goaws, an SQS
// emulator; scripts/deps.sh installs it as goaws) for one test.
type SQS struct {
	// Endpoint speaks SQS's JSON protocol (what aws-sdk-go-v2 sends):
	// goaws v0.4.5, the newest the module proxy serves, speaks only the
	// older query protocol, so Endpoint is a translating proxy in the
	// test process in front of it that passes each call through and
	// changes only the encoding (form and XML to and from JSON).
	Endpoint string
	goaws    string // goaws's own address, http://127.0.0.1:port

	mu    sync.Mutex
	calls map[string]int // by operation, through Endpoint
}

// NewSQS starts goaws on a free loopback port with the given queues,
// every message's visibility timeout set to visibility (goaws honours
// only this default, not the per-receive one; ChangeMessageVisibility
// works), and the JSON-protocol endpoint in front of it. Both stop when
// the test ends.
func NewSQS(t testing.TB, visibility time.Duration, queues ...SQSQueue) *SQS {
	t.Helper()
	bin, err := goawsPath()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	addr := FreeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "Local:\n  Host: 127.0.0.1\n  Port: %s\n  Region: %s\n  AccountId: \"100010001000\"\n", port, demo.Region)
	fmt.Fprintf(&cfg, "  LogToFile: false\n  EnableDuplicates: false\n  QueueAttributeDefaults:\n    VisibilityTimeout: %d\n    ReceiveMessageWaitTimeSeconds: 0\n    MaximumMessageSize: 262144\n  Queues:\n",
		int(visibility/time.Second))
	for _, q := range queues {
		fmt.Fprintf(&cfg, "    - Name: %s\n", q.Name)
		if q.DeadLetter != "" {
			fmt.Fprintf(&cfg, "      RedrivePolicy: '{\"maxReceiveCount\": %d, \"deadLetterTargetArn\":\"arn:aws:sqs:%s:100010001000:%s\"}'\n",
				q.MaxReceiveCount, demo.Region, q.DeadLetter)
		}
	}
	cfg.WriteString("  Topics: []\n")
	file := filepath.Join(t.TempDir(), "goaws.yaml")
	if err := os.WriteFile(file, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", file, "Local")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	cmd.SysProcAttr = dieWithTests()
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start goaws: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s := &SQS{goaws: "http://" + addr, calls: map[string]int{}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.goaws + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: goaws at %s did not answer /health in 20s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(s.translate), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.Endpoint = "http://" + ln.Addr().String()
	return s
}

// Calls is how many op calls (ChangeMessageVisibility, …) Endpoint has
// passed to goaws so far. Safe for concurrent use.
func (s *SQS) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// QueueURL is the URL of a queue NewSQS created.
func (s *SQS) QueueURL(name string) string { return s.goaws + "/100010001000/" + name }

func goawsPath() (string, error) {
	if bin, err := exec.LookPath("goaws"); err == nil {
		return bin, nil
	}
	gobin := os.Getenv("GOBIN")
	if gobin == "" {
		out, _ := exec.Command("go", "env", "GOPATH").Output()
		gobin = filepath.Join(string(trimNL(out)), "bin")
	}
	bin := filepath.Join(gobin, "goaws")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("goaws not found in PATH or %s (scripts/deps.sh installs it)", gobin)
	}
	return bin, nil
}

// translate serves one JSON-protocol call (X-Amz-Target: AmazonSQS.Op)
// by making the same call to goaws in the query protocol.
func (s *SQS) translate(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	var in map[string]any
	if !ok || json.NewDecoder(r.Body).Decode(&in) != nil {
		sqsError(w, http.StatusBadRequest, "InvalidAction", "want a JSON-protocol SQS call")
		return
	}
	s.mu.Lock()
	s.calls[op]++
	s.mu.Unlock()
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
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, s.goaws+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		sqsError(w, http.StatusBadGateway, "ServiceUnavailable", err.Error())
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code    string `xml:"Error>Code"`
			Message string `xml:"Error>Message"`
		}
		xml.Unmarshal(body, &e)
		sqsError(w, resp.StatusCode, e.Code, e.Message)
		return
	}
	var out any
	switch op {
	case "ReceiveMessage":
		var x struct {
			Messages []struct {
				MessageId, ReceiptHandle, MD5OfBody, Body string
				Attribute                                 []struct{ Name, Value string }
			} `xml:"ReceiveMessageResult>Message"`
		}
		xml.Unmarshal(body, &x)
		msgs := []map[string]any{}
		for _, m := range x.Messages {
			attrs := map[string]string{}
			for _, a := range m.Attribute {
				attrs[a.Name] = a.Value
			}
			msgs = append(msgs, map[string]any{"MessageId": m.MessageId, "ReceiptHandle": m.ReceiptHandle,
				"MD5OfBody": m.MD5OfBody, "Body": m.Body, "Attributes": attrs})
		}
		out = map[string]any{"Messages": msgs}
	case "GetQueueAttributes":
		var x struct {
			Attribute []struct{ Name, Value string } `xml:"GetQueueAttributesResult>Attribute"`
		}
		xml.Unmarshal(body, &x)
		attrs := map[string]string{}
		for _, a := range x.Attribute {
			attrs[a.Name] = a.Value
		}
		out = map[string]any{"Attributes": attrs}
	case "SendMessage":
		var x struct {
			MessageId        string `xml:"SendMessageResult>MessageId"`
			MD5OfMessageBody string `xml:"SendMessageResult>MD5OfMessageBody"`
		}
		xml.Unmarshal(body, &x)
		out = map[string]string{"MessageId": x.MessageId, "MD5OfMessageBody": x.MD5OfMessageBody}
	case "GetQueueUrl":
		var x struct {
			QueueUrl string `xml:"GetQueueUrlResult>QueueUrl"`
		}
		xml.Unmarshal(body, &x)
		out = map[string]string{"QueueUrl": x.QueueUrl}
	default: // DeleteMessage, ChangeMessageVisibility, PurgeQueue: no output
		out = map[string]any{}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(out)
}

func sqsError(w http.ResponseWriter, status int, code, msg string) {
	if code == "" {
		code = "InternalError"
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + code, "message": msg})
}
