package gateway

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/snsverify"
)

// testSNS stands in for SNS: an RSA signing key whose certificate it
// serves over TLS (httptest's test CA, trusted through events.sns.ca_file)
// at /cert.pem, and a SubscribeURL (/confirm) that counts its visits.
type testSNS struct {
	key       *rsa.PrivateKey
	srv       *httptest.Server
	confirmed atomic.Int64
	caFile    string
}

const testTopic = "arn:aws:sns:us-west-2:123456789012:uploads"

func newTestSNS(t *testing.T) *testSNS {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns signing test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	s := &testSNS{key: key}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cert.pem":
			w.Write(certPEM)
		case "/confirm":
			s.confirmed.Add(1)
			io.WriteString(w, "<ConfirmSubscriptionResponse/>")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.srv.Close)
	s.caFile = filepath.Join(t.TempDir(), "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
	if err := os.WriteFile(s.caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// configure points events.sns at this test SNS.
func (s *testSNS) configure(c *Config) {
	c.Events.SNS.Topics = []string{testTopic}
	c.Events.SNS.HostPattern = `^` + strings.ReplaceAll(strings.TrimPrefix(s.srv.URL, "https://"), ".", `\.`) + `$`
	c.Events.SNS.CAFile = s.caFile
}

func (s *testSNS) notification(event string) map[string]string {
	return map[string]string{"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
		"TopicArn": testTopic, "Subject": "Amazon S3 Notification", "Message": event,
		"Timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "SigningCertURL": s.srv.URL + "/cert.pem"}
}

func (s *testSNS) confirmation(topic string) map[string]string {
	return map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "165545c9", "Token": "2336412f37",
		"TopicArn": topic, "Message": "You have chosen to subscribe to the topic " + topic,
		"SubscribeURL": s.srv.URL + "/confirm?Action=ConfirmSubscription&Token=2336412f37",
		"Timestamp":    time.Now().UTC().Format(time.RFC3339), "SigningCertURL": s.srv.URL + "/cert.pem"}
}

// sign sets SignatureVersion and Signature over the fields as they are.
func (s *testSNS) sign(t *testing.T, m map[string]string, version string) map[string]string {
	t.Helper()
	m["SignatureVersion"] = version
	b, _ := json.Marshal(m)
	msg, err := snsverify.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	var sig []byte
	if version == "1" {
		d := sha1.Sum([]byte(msg.StringToSign()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA1, d[:])
	} else {
		d := sha256.Sum256([]byte(msg.StringToSign()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, d[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	return m
}

// postSNS posts a message as SNS does (text/plain) and returns the status
// and the decoded JSON answer.
func postSNS(t *testing.T, url string, body []byte, header ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "text/plain; charset=UTF-8")
	req.Header.Set("x-amz-sns-message-type", "Notification")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("status %d: answer is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

func jsonOf(m map[string]string) []byte { b, _ := json.Marshal(m); return b }

func TestSNSEndpoint(t *testing.T) {
	sns := newTestSNS(t)
	g := startGateway(t, demoRules(t), sns.configure, func(c *Config) {
		c.Events.Eager = []string{"global/uploads/**"}
		c.Events.SNS.MaxBodyBytes = 64 << 10
	})
	url := g.admin + "/events/sns"
	created := eventBody("ObjectCreated:Put", demo.Bucket, "global/uploads/sns+photo.jpg")
	tests := []struct {
		name      string
		body      func() []byte
		status    int
		queued    float64 // for 202s
		confirmed int64   // SubscribeURL visits expected after this one, in total
	}{
		{"notification v1", func() []byte { return jsonOf(sns.sign(t, sns.notification(created), "1")) }, 202, 1, 0},
		{"notification v2, a delete", func() []byte {
			return jsonOf(sns.sign(t, sns.notification(eventBody("ObjectRemoved:Delete", demo.Bucket, "global/a.jpg")), "2"))
		}, 202, 1, 0},
		{"S3 test event", func() []byte {
			return jsonOf(sns.sign(t, sns.notification(`{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"demo"}`), "2"))
		}, 202, 0, 0},
		{"confirmation of a listed topic", func() []byte { return jsonOf(sns.sign(t, sns.confirmation(testTopic), "2")) }, 200, 0, 1},
		{"confirmation of another topic", func() []byte {
			return jsonOf(sns.sign(t, sns.confirmation("arn:aws:sns:us-west-2:123456789012:other"), "2"))
		}, 403, 0, 1},
		{"confirmation with a SubscribeURL off SNS", func() []byte {
			m := sns.confirmation(testTopic)
			m["SubscribeURL"] = "https://example.com/confirm"
			return jsonOf(sns.sign(t, m, "1"))
		}, 403, 0, 1},
		{"tampered Message", func() []byte {
			m := sns.sign(t, sns.notification(created), "2")
			m["Message"] = eventBody("ObjectRemoved:Delete", demo.Bucket, "global/uploads/sns+photo.jpg")
			return jsonOf(m)
		}, 403, 0, 1},
		{"certificate on another host", func() []byte {
			m := sns.notification(created)
			m["SigningCertURL"] = "https://sns.us-west-2.amazonaws.com.example.org/cert.pem"
			return jsonOf(sns.sign(t, m, "2"))
		}, 403, 0, 1},
		{"stale", func() []byte {
			m := sns.notification(created)
			m["Timestamp"] = time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
			return jsonOf(sns.sign(t, m, "2"))
		}, 400, 0, 1},
		{"unsigned", func() []byte { return jsonOf(sns.notification(created)) }, 403, 0, 1},
		{"bucket the rules do not name", func() []byte {
			return jsonOf(sns.sign(t, sns.notification(eventBody("ObjectCreated:Put", "elsewhere", "a.jpg")), "2"))
		}, 403, 0, 1},
		{"Message that is no S3 event", func() []byte { return jsonOf(sns.sign(t, sns.notification("hello"), "2")) }, 400, 0, 1},
		{"not an SNS message", func() []byte { return []byte(`{"Records":[]}`) }, 400, 0, 1},
		{"over max_body_bytes", func() []byte {
			return jsonOf(sns.sign(t, sns.notification(strings.Repeat("x", 65<<10)), "2"))
		}, 413, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, out := postSNS(t, url, tc.body())
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, out)
			}
			if status == 202 && out["queued"] != tc.queued {
				t.Errorf("queued %v, want %v", out["queued"], tc.queued)
			}
			if status >= 400 && out["error"] == "" {
				t.Errorf("refusal without an error message: %v", out)
			}
			if n := sns.confirmed.Load(); n != tc.confirmed {
				t.Errorf("SubscribeURL visited %d times, want %d", n, tc.confirmed)
			}
		})
	}
}

// With a token, SNS presents it as the Basic password of its subscription
// URL; without topics the endpoint is off.
func TestSNSEndpointAuth(t *testing.T) {
	sns := newTestSNS(t)
	g := startGateway(t, demoRules(t), sns.configure, func(c *Config) { c.Events.Token = "s3cret" })
	body := func() []byte { return jsonOf(sns.sign(t, sns.confirmation(testTopic), "2")) }
	if status, out := postSNS(t, g.admin+"/events/sns", body()); status != http.StatusUnauthorized {
		t.Fatalf("without the token: %d %v", status, out)
	}
	if status, out := postSNS(t, g.admin+"/events/sns", body(), "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("sns:wrong"))); status != http.StatusUnauthorized {
		t.Fatalf("wrong Basic password: %d %v", status, out)
	}
	if status, out := postSNS(t, g.admin+"/events/sns", body(), "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("sns:s3cret"))); status != http.StatusOK {
		t.Fatalf("Basic password: %d %v", status, out)
	}
	if status, out := postSNS(t, g.admin+"/events/sns", body(), "Authorization", "Bearer s3cret"); status != http.StatusOK {
		t.Fatalf("bearer token: %d %v", status, out)
	}
	off := startGateway(t, demoRules(t))
	if status, out := postSNS(t, off.admin+"/events/sns", body()); status != http.StatusNotFound {
		t.Fatalf("without events.sns.topics: %d %v", status, out)
	}
}
