package presign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeKey writes priv as PEM of the given block type into dir.
func writeKey(t *testing.T, dir, name string, priv crypto.Signer, blockType string) string {
	t.Helper()
	var der []byte
	var err error
	switch blockType {
	case "RSA PRIVATE KEY":
		der = x509.MarshalPKCS1PrivateKey(priv.(*rsa.PrivateKey))
	case "EC PRIVATE KEY":
		der, err = x509.MarshalECPrivateKey(priv.(*ecdsa.PrivateKey))
	case "PRIVATE KEY":
		der, err = x509.MarshalPKCS8PrivateKey(priv)
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// cfDecode undoes CloudFront's URL-safe base64 (+→-, =→_, /→~).
func cfDecode(t *testing.T, s string) []byte {
	t.Helper()
	r := strings.NewReplacer("-", "+", "_", "=", "~", "/")
	b, err := base64.StdEncoding.DecodeString(r.Replace(s))
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

// verifyCF checks a CloudFront signature over policy the way CloudFront
// does: SHA-1 digest, RSA PKCS#1 v1.5 or ECDSA (ASN.1).
func verifyCF(pub crypto.PublicKey, policy, sig []byte) error {
	h := sha1.Sum(policy)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA1, h[:], sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, h[:], sig) {
			return errors.New("ecdsa: invalid signature")
		}
		return nil
	}
	return errors.New("unknown key type")
}

// cfParams splits a CloudFront-signed URL into the resource URL and its
// signing parameters.
func cfParams(t *testing.T, signed string) (resource string, q map[string]string) {
	t.Helper()
	resource, rawQuery, ok := strings.Cut(signed, "?")
	if !ok {
		t.Fatalf("no query in %s", signed)
	}
	q = map[string]string{}
	for _, kv := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		q[k] = v
	}
	return resource, q
}

func TestSignCDNCloudFront(t *testing.T) {
	dir := t.TempDir()
	keys := map[string]crypto.Signer{"rsa-pkcs1": rsaKey(t), "ec-sec1": ecKey(t), "rsa-pkcs8": rsaKey(t), "ec-pkcs8": ecKey(t)}
	files := map[string]string{
		"rsa-pkcs1": writeKey(t, dir, "rsa1.pem", keys["rsa-pkcs1"], "RSA PRIVATE KEY"),
		"ec-sec1":   writeKey(t, dir, "ec1.pem", keys["ec-sec1"], "EC PRIVATE KEY"),
		"rsa-pkcs8": writeKey(t, dir, "rsa8.pem", keys["rsa-pkcs8"], "PRIVATE KEY"),
		"ec-pkcs8":  writeKey(t, dir, "ec8.pem", keys["ec-pkcs8"], "PRIVATE KEY"),
	}
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	for name, priv := range keys {
		for _, wildcard := range []bool{false, true} {
			t.Run(name+"/wildcard="+strconv.FormatBool(wildcard), func(t *testing.T) {
				clk := newFakeClock(start.Add(42 * time.Second))
				s := newTestSigner(t, Config{Now: clk.now, CloudFront: CloudFrontConfig{Keys: []CloudFrontKey{
					{ID: "KOLD", PrivateKeyFile: files["rsa-pkcs1"]}, // a rotated-out key stays configured
					{ID: "K" + strings.ToUpper(strings.ReplaceAll(name, "-", "")), PrivateKeyFile: files[name], Active: true},
				}}}, staticProvider("AKID", "secret", ""))
				req := CDNRequest{Base: "https://cdn.example.com/tiles/", Key: "uk/london/a b+€.png", TTL: time.Hour, Wildcard: wildcard}
				u, err := s.SignCDN(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				wantExpires := start.Add(time.Hour + time.Minute)
				if !u.Expires.Equal(wantExpires) {
					t.Errorf("Expires = %s, want window start + TTL + window = %s", u.Expires, wantExpires)
				}
				resource, q := cfParams(t, u.URL)
				if want := "https://cdn.example.com/tiles/uk/london/a%20b%2B%E2%82%AC.png"; resource != want {
					t.Errorf("URL = %s, want %s?...", resource, want)
				}
				if want := "K" + strings.ToUpper(strings.ReplaceAll(name, "-", "")); q["Key-Pair-Id"] != want {
					t.Errorf("Key-Pair-Id = %s, want the active key %s", q["Key-Pair-Id"], want)
				}
				var policy []byte
				if wildcard {
					if _, ok := q["Expires"]; ok {
						t.Error("custom policy URL has Expires")
					}
					policy = cfDecode(t, q["Policy"])
					var p struct {
						Statement []struct {
							Resource  string
							Condition struct {
								DateLessThan struct {
									Epoch int64 `json:"AWS:EpochTime"`
								}
							}
						}
					}
					if err := json.Unmarshal(policy, &p); err != nil {
						t.Fatalf("policy %s: %v", policy, err)
					}
					if len(p.Statement) != 1 {
						t.Fatalf("policy has %d statements, want 1", len(p.Statement))
					}
					if want := "https://cdn.example.com/tiles/uk/london/*"; p.Statement[0].Resource != want {
						t.Errorf("policy resource = %s, want %s", p.Statement[0].Resource, want)
					}
					if p.Statement[0].Condition.DateLessThan.Epoch != wantExpires.Unix() {
						t.Errorf("policy DateLessThan = %d, want %d", p.Statement[0].Condition.DateLessThan.Epoch, wantExpires.Unix())
					}
				} else {
					if _, ok := q["Policy"]; ok {
						t.Error("canned policy URL has Policy")
					}
					if q["Expires"] != strconv.FormatInt(wantExpires.Unix(), 10) {
						t.Errorf("Expires param = %s, want %d", q["Expires"], wantExpires.Unix())
					}
					// CloudFront rebuilds the canned policy from the URL and Expires.
					policy = []byte(`{"Statement":[{"Resource":"` + resource + `","Condition":{"DateLessThan":{"AWS:EpochTime":` + q["Expires"] + `}}}]}`)
				}
				sig := cfDecode(t, q["Signature"])
				if err := verifyCF(priv.Public(), policy, sig); err != nil {
					t.Errorf("signature does not verify with the active key: %v", err)
				}
				if err := verifyCF(keys["rsa-pkcs1"].Public(), policy, sig); err == nil && name != "rsa-pkcs1" {
					t.Error("signature verifies with the inactive key")
				}
				tampered := append([]byte(nil), policy...)
				tampered[len(tampered)-5] ^= 1
				if err := verifyCF(priv.Public(), tampered, sig); err == nil {
					t.Error("signature verifies over a tampered policy")
				}

				// Window-aligned and cached: the same URL later in the window,
				// even for ECDSA, whose signatures are randomized.
				clk.advance(17 * time.Second)
				again, err := s.SignCDN(context.Background(), req)
				if err != nil || again != u {
					t.Errorf("same window: got %v, %v; want the cached %s", again.URL, err, u.URL)
				}
				clk.advance(time.Minute)
				next, _ := s.SignCDN(context.Background(), req)
				if next.URL == u.URL || !next.Expires.Equal(wantExpires.Add(time.Minute)) {
					t.Errorf("next window: got %s expiring %s", next.URL, next.Expires)
				}
			})
		}
	}
}

func TestSignCDNUnsigned(t *testing.T) {
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	clk := newFakeClock(start.Add(5 * time.Second))
	s := newTestSigner(t, Config{Now: clk.now}, staticProvider("AKID", "secret", ""))
	tests := []struct {
		base, key, want string
	}{
		{"https://cdn.example.com/tiles", "uk/london/map-tiles.zip", "https://cdn.example.com/tiles/uk/london/map-tiles.zip"},
		{"https://cdn.example.com/tiles/", "a b+c~d/ü", "https://cdn.example.com/tiles/a%20b%2Bc~d/%C3%BC"},
		{"http://cdn.example.com", "k", "http://cdn.example.com/k"},
	}
	for _, tt := range tests {
		u, err := s.SignCDN(context.Background(), CDNRequest{Base: tt.base, Key: tt.key, TTL: time.Hour, Wildcard: true})
		if err != nil {
			t.Fatal(err)
		}
		if u.URL != tt.want {
			t.Errorf("SignCDN(%s, %s) = %s, want %s", tt.base, tt.key, u.URL, tt.want)
		}
		if !u.Expires.Equal(start.Add(time.Hour + time.Minute)) {
			t.Errorf("Expires = %s", u.Expires)
		}
	}
	for _, bad := range []CDNRequest{
		{Base: "cdn.example.com", Key: "k", TTL: time.Hour},
		{Base: "https://", Key: "k", TTL: time.Hour},
		{Base: "https://cdn.example.com/?x=1", Key: "k", TTL: time.Hour},
		{Base: "https://cdn.example.com", Key: "", TTL: time.Hour},
		{Base: "https://cdn.example.com", Key: "k"},
	} {
		if _, err := s.SignCDN(context.Background(), bad); err == nil || !strings.HasPrefix(err.Error(), "presign: ") {
			t.Errorf("SignCDN(%+v) = %v, want a presign: error", bad, err)
		}
	}
}

func TestCloudFrontConfigValidate(t *testing.T) {
	dir := t.TempDir()
	good := writeKey(t, dir, "good.pem", rsaKey(t), "RSA PRIVATE KEY")
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a key"), 0o600)
	badDER := filepath.Join(dir, "bad-der.pem")
	os.WriteFile(badDER, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("nope")}), 0o600)
	cert := filepath.Join(dir, "cert.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")}), 0o600)
	tests := []struct {
		name    string
		keys    []CloudFrontKey
		wantErr string
	}{
		{"no keys: unsigned CDN URLs", nil, ""},
		{"one active", []CloudFrontKey{{ID: "K1", PrivateKeyFile: good, Active: true}}, ""},
		{"rotation: one active of two", []CloudFrontKey{{ID: "K1", PrivateKeyFile: good}, {ID: "K2", PrivateKeyFile: good, Active: true}}, ""},
		{"none active", []CloudFrontKey{{ID: "K1", PrivateKeyFile: good}}, "exactly one key must be active, 0 are"},
		{"two active", []CloudFrontKey{{ID: "K1", PrivateKeyFile: good, Active: true}, {ID: "K2", PrivateKeyFile: good, Active: true}}, "exactly one key must be active, 2 are"},
		{"missing id", []CloudFrontKey{{PrivateKeyFile: good, Active: true}}, "missing id"},
		{"duplicate id", []CloudFrontKey{{ID: "K1", PrivateKeyFile: good, Active: true}, {ID: "K1", PrivateKeyFile: good}}, "duplicate id"},
		{"unreadable file", []CloudFrontKey{{ID: "K1", PrivateKeyFile: filepath.Join(dir, "nope.pem"), Active: true}}, "no such file"},
		{"not PEM", []CloudFrontKey{{ID: "K1", PrivateKeyFile: garbage, Active: true}}, "no PEM block"},
		{"bad DER", []CloudFrontKey{{ID: "K1", PrivateKeyFile: badDER, Active: true}}, "parse RSA PRIVATE KEY"},
		{"not a key", []CloudFrontKey{{ID: "K1", PrivateKeyFile: cert, Active: true}}, "unsupported PEM block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Config{CloudFront: CloudFrontConfig{Keys: tt.keys}}.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "presign: ") {
				t.Fatalf("Validate() = %v, want a presign: error containing %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzParsePrivateKey(f *testing.F) {
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parsePrivateKey(data)
		if (s == nil) == (err == nil) {
			t.Fatalf("parsePrivateKey = %v, %v: want exactly one of key and error", s, err)
		}
	})
}
