package snsverify

import (
	"context"
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
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// signer is a test SNS: an RSA signing key, its certificate served over
// TLS by an httptest server (whose own test CA the client trusts).
type signer struct {
	key     *rsa.PrivateKey
	srv     *httptest.Server
	fetches atomic.Int64
}

func newSigner(t testing.TB) *signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.test.amazonaws.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	s := &signer{key: key}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/cert"):
			s.fetches.Add(1)
			w.Write(certPEM)
		case r.URL.Path == "/redirect":
			http.Redirect(w, r, "https://example.com/cert.pem", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// pattern matches the test server's host:port.
func (s *signer) pattern() string {
	return `^` + strings.ReplaceAll(strings.TrimPrefix(s.srv.URL, "https://"), ".", `\.`) + `$`
}

func (s *signer) verifier(t testing.TB, mutate ...func(*Config)) *Verifier {
	t.Helper()
	cfg := DefaultConfig()
	cfg.HostPattern = s.pattern()
	for _, m := range mutate {
		m(&cfg)
	}
	v, err := New(cfg, s.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sign fills SignatureVersion, SigningCertURL and Signature and returns
// the JSON SNS would POST.
func (s *signer) sign(t testing.TB, m map[string]string, version string) []byte {
	t.Helper()
	if _, ok := m["SigningCertURL"]; !ok {
		m["SigningCertURL"] = s.srv.URL + "/cert.pem"
	}
	m["SignatureVersion"] = version
	msg, err := Parse(mustJSON(t, m))
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
	return mustJSON(t, m)
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func notification(ts time.Time) map[string]string {
	return map[string]string{"Type": TypeNotification, "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
		"TopicArn": "arn:aws:sns:us-west-2:123456789012:uploads", "Subject": "Amazon S3 Notification",
		"Message":   `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a+b.jpg"}}}]}`,
		"Timestamp": ts.UTC().Format("2006-01-02T15:04:05.000Z")}
}

func confirmation(ts time.Time) map[string]string {
	return map[string]string{"Type": TypeSubscriptionConfirmation, "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
		"Token": "2336412f37", "TopicArn": "arn:aws:sns:us-west-2:123456789012:uploads",
		"Message":      "You have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:uploads.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
		"SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:uploads&Token=2336412f37",
		"Timestamp":    ts.UTC().Format(time.RFC3339Nano)}
}

func TestVerify(t *testing.T) {
	s := newSigner(t)
	v := s.verifier(t)
	now := time.Now()
	noSubject := notification(now)
	delete(noSubject, "Subject")
	tests := []struct {
		name string
		body func() []byte
		want error // nil: accepted
	}{
		{"notification v1", func() []byte { return s.sign(t, notification(now), "1") }, nil},
		{"notification v2", func() []byte { return s.sign(t, notification(now), "2") }, nil},
		{"notification without Subject", func() []byte { return s.sign(t, noSubject, "2") }, nil},
		{"subscription confirmation v1", func() []byte { return s.sign(t, confirmation(now), "1") }, nil},
		{"unsubscribe confirmation v2", func() []byte {
			m := confirmation(now)
			m["Type"] = TypeUnsubscribeConfirmation
			return s.sign(t, m, "2")
		}, nil},
		{"tampered Message", func() []byte {
			return tamper(t, s.sign(t, notification(now), "2"), "Message", `{"Records":[]}`)
		}, ErrSignature},
		{"tampered TopicArn", func() []byte {
			return tamper(t, s.sign(t, notification(now), "1"), "TopicArn", "arn:aws:sns:us-west-2:666:evil")
		}, ErrSignature},
		{"tampered SubscribeURL", func() []byte {
			return tamper(t, s.sign(t, confirmation(now), "2"), "SubscribeURL", "https://sns.us-west-2.amazonaws.com/?evil")
		}, ErrSignature},
		{"Subject added", func() []byte { return tamper(t, s.sign(t, noSubject, "2"), "Subject", "") }, ErrSignature},
		{"version swapped", func() []byte {
			return tamper(t, s.sign(t, notification(now), "1"), "SignatureVersion", "2")
		}, ErrSignature},
		{"unknown version", func() []byte {
			return tamper(t, s.sign(t, notification(now), "1"), "SignatureVersion", "3")
		}, ErrSignature},
		{"signature not base64", func() []byte {
			return tamper(t, s.sign(t, notification(now), "1"), "Signature", "!!")
		}, ErrSignature},
		{"cert on another host", func() []byte {
			m := notification(now)
			m["SigningCertURL"] = "https://sns.us-west-2.amazonaws.com.evil.example/cert.pem"
			return s.sign(t, m, "2")
		}, ErrCertURL},
		{"cert over http", func() []byte {
			m := notification(now)
			m["SigningCertURL"] = strings.Replace(s.srv.URL, "https://", "http://", 1) + "/cert.pem"
			return s.sign(t, m, "2")
		}, ErrCertURL},
		{"cert URL with user info", func() []byte {
			m := notification(now)
			m["SigningCertURL"] = strings.Replace(s.srv.URL, "https://", "https://u:p@", 1) + "/cert.pem"
			return s.sign(t, m, "2")
		}, ErrCertURL},
		{"cert redirected elsewhere", func() []byte {
			m := notification(now)
			m["SigningCertURL"] = s.srv.URL + "/redirect"
			return s.sign(t, m, "2")
		}, ErrCertFetch},
		{"stale", func() []byte { return s.sign(t, notification(now.Add(-61*time.Minute)), "2") }, ErrStale},
		{"from the future", func() []byte { return s.sign(t, notification(now.Add(61*time.Minute)), "2") }, ErrStale},
		{"unsigned", func() []byte { return mustJSON(t, notification(now)) }, ErrUnsigned},
		{"empty signature", func() []byte {
			return tamper(t, s.sign(t, notification(now), "2"), "Signature", "")
		}, ErrUnsigned},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(tc.body())
			if err != nil {
				t.Fatal(err)
			}
			err = v.Verify(context.Background(), m)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func tamper(t testing.TB, body []byte, field, value string) []byte {
	var m map[string]string
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m[field] = value
	return mustJSON(t, m)
}

// The certificate is fetched once per URL; the cache holds at most
// cert_cache of them, the oldest going first.
func TestCertCacheBounded(t *testing.T) {
	s := newSigner(t)
	v := s.verifier(t, func(c *Config) { c.CertCache = 2 })
	verify := func(path string) {
		t.Helper()
		m := notification(time.Now())
		m["SigningCertURL"] = s.srv.URL + path
		msg, err := Parse(s.sign(t, m, "2"))
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		verify("/cert-a.pem")
	}
	if n := s.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for one URL verified 3 times, want 1", n)
	}
	verify("/cert-b.pem")
	verify("/cert-c.pem") // evicts a
	if len(v.certs) != 2 || len(v.order) != 2 {
		t.Fatalf("cache holds %d certificates, bound 2", len(v.certs))
	}
	verify("/cert-a.pem")
	if n := s.fetches.Load(); n != 4 {
		t.Fatalf("%d fetches, want 4 (a fetched again after eviction)", n)
	}
}

func TestURLAllowedByDefault(t *testing.T) {
	v, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for u, want := range map[string]bool{
		"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem": true,
		"https://sns.cn-north-1.amazonaws.com.cn/x.pem":                         true,
		"http://sns.us-east-1.amazonaws.com/x.pem":                              false,
		"https://sns.us-east-1.amazonaws.com:8443/x.pem":                        false,
		"https://sns.us-east-1.amazonaws.com.evil.com/x.pem":                    false,
		"https://evil.com/sns.us-east-1.amazonaws.com/x.pem":                    false,
		"https://user@sns.us-east-1.amazonaws.com/x.pem":                        false,
		"https://s3.us-east-1.amazonaws.com/x.pem":                              false,
		"": false,
	} {
		if got := v.URLAllowed(u); got != want {
			t.Errorf("URLAllowed(%q) = %v, want %v", u, got, want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":                 `Type=Notification`,
		"no Type":                  `{"MessageId":"1"}`,
		"unknown Type":             `{"Type":"Other","MessageId":"1","TopicArn":"a","Timestamp":"2026-01-01T00:00:00Z"}`,
		"no MessageId":             `{"Type":"Notification","TopicArn":"a","Timestamp":"2026-01-01T00:00:00Z"}`,
		"confirmation without URL": `{"Type":"SubscriptionConfirmation","Token":"t","MessageId":"1","TopicArn":"a","Timestamp":"2026-01-01T00:00:00Z"}`,
		"bad Timestamp":            `{"Type":"Notification","MessageId":"1","TopicArn":"a","Timestamp":"yesterday"}`,
		"field of the wrong type":  `{"Type":"Notification","MessageId":1,"TopicArn":"a","Timestamp":"2026-01-01T00:00:00Z"}`,
		"array":                    `[]`,
	} {
		if _, err := Parse([]byte(body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse = %v, want ErrMalformed", name, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for name, c := range map[string]Config{
		"bad pattern":   {HostPattern: "(", MaxAge: time.Hour, CertCache: 1},
		"empty pattern": {MaxAge: time.Hour, CertCache: 1},
		"zero max age":  {HostPattern: "x", CertCache: 1},
		"zero cache":    {HostPattern: "x", MaxAge: time.Hour},
	} {
		if c.Validate() == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// FuzzParse: Parse never panics, and what it accepts has a string to sign
// that survives a JSON round trip unchanged (the signed fields are the
// ones read).
func FuzzParse(f *testing.F) {
	now := time.Unix(1_780_000_000, 0)
	f.Add(mustJSON(f, notification(now)))
	f.Add(mustJSON(f, confirmation(now)))
	f.Add([]byte(`{"Type":"Notification","Subject":null,"MessageId":"1","TopicArn":"a","Timestamp":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"Type":"UnsubscribeConfirmation"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Parse(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		out := map[string]string{"Type": m.Type, "MessageId": m.MessageID, "TopicArn": m.TopicARN,
			"Message": m.Message, "Timestamp": m.Timestamp, "Token": m.Token, "SubscribeURL": m.SubscribeURL}
		if m.subjectSet {
			out["Subject"] = m.Subject
		}
		m2, err := Parse(mustJSON(t, out))
		if err != nil {
			t.Fatalf("re-encoded message refused: %v", err)
		}
		if m.StringToSign() != m2.StringToSign() {
			t.Fatalf("string to sign changed in a round trip:\n%q\n%q", m.StringToSign(), m2.StringToSign())
		}
	})
}
