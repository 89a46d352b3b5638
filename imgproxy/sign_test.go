package imgproxy

import (
	"errors"
	"testing"
)

// The signing guide's example: key "secret" and salt "hello" (hex
// 736563726574 and 68656C6C6F), the insecure URL
// /insecure/rs:fill:300:400:0/g:sm/aHR0cDovL2V4YW1w/bGUuY29tL2ltYWdl/cy9jdXJpb3NpdHku/anBn.png.
// The expected signature is computed from the documented scheme
// (base64url of HMAC-SHA256(key, salt + path)):
//
//	printf 'hello%s' "$path" | openssl dgst -sha256 -hmac secret -binary | base64 | tr '+/' '-_' | tr -d =
const (
	docKeyHex  = "736563726574"
	docSaltHex = "68656C6C6F"
	docPath    = "/rs:fill:300:400:0/g:sm/" + docSourceB64 + ".png"
	docSig     = "oKfUtW34Dvo2BGQehJFR4Nr0_rIjOtdtzJ3QFsUcXH8"
	// imgproxy 2's guide signs the basic-format path with the same pair
	// and prints this signature.
	docPathV2 = "/fill/300/400/sm/0/" + docSourceB64 + ".png"
	docSigV2  = "AfrOrF3gWeDA6VOlDG4TzxMv39O7MXnF4CXpKUwGqRM"
)

func signed(t testing.TB, mod func(*Config)) *Parser {
	return newParser(t, func(c *Config) {
		c.AllowInsecure = false
		c.Keys, c.Salts = []string{docKeyHex}, []string{docSaltHex}
		if mod != nil {
			mod(c)
		}
	})
}

func TestDocumentedSignature(t *testing.T) {
	p := signed(t, nil)
	if got := p.sig.sign(0, docPath); got != docSig {
		t.Fatalf("signature of the guide's path = %s, want %s", got, docSig)
	}
	if !p.sig.verify(docSigV2, docPathV2) {
		t.Fatalf("imgproxy 2's documented signature does not verify")
	}
	r, err := p.Parse("/"+docSig+docPath, now)
	if err != nil {
		t.Fatalf("the guide's signed URL: %v", err)
	}
	if r.Key != docKey || r.Transform.Width != 300 {
		t.Fatalf("parsed %+v", r)
	}
}

func TestSignatureRefusals(t *testing.T) {
	forbidden := func(t *testing.T, p *Parser, path string) {
		t.Helper()
		_, err := p.Parse(path, now)
		var e *Error
		if !errors.As(err, &e) || e.Status != 403 {
			t.Errorf("Parse(%q) = %v, want 403", path, err)
		}
	}
	p := signed(t, nil)
	forbidden(t, p, "/insecure"+docPath)
	forbidden(t, p, "/"+docSig+"="+docPath)                                    // padded
	forbidden(t, p, "/"+docSig[:42]+"A"+docPath)                               // one character off
	forbidden(t, p, "/"+docSig+"/rs:fill:300:401:0/g:sm/"+docSourceB64+".png") // path changed
	forbidden(t, p, "/"+docSig[:20]+docPath)                                   // truncated without signature_size

	// No keys and allow_insecure off: nothing is served.
	none := newParser(t, func(c *Config) { c.AllowInsecure = false })
	forbidden(t, none, "/insecure"+docPath)
	forbidden(t, none, "/"+docSig+docPath)

	// allow_insecure without keys: any signature segment, as imgproxy.
	open := newParser(t, nil)
	for _, s := range []string{"insecure", "_", "unsafe", docSig} {
		if _, err := open.Parse("/"+s+docPath, now); err != nil {
			t.Errorf("insecure %q: %v", s, err)
		}
	}
}

func TestSignatureSizeAndRotation(t *testing.T) {
	// IMGPROXY_SIGNATURE_SIZE=8: the first 8 bytes of the MAC, 11 characters.
	p := signed(t, func(c *Config) { c.SignatureSize = 8 })
	short := p.sig.sign(0, docPath)
	if len(short) != 11 || short != docSig[:10]+short[10:] {
		t.Fatalf("truncated signature %q does not start the full one %q", short, docSig)
	}
	if _, err := p.Parse("/"+short+docPath, now); err != nil {
		t.Fatalf("truncated signature: %v", err)
	}
	if _, err := p.Parse("/"+docSig+docPath, now); err == nil {
		t.Fatal("a full signature verified under signature_size 8")
	}
	// Rotation: the old pair keeps verifying beside the new one.
	r := signed(t, func(c *Config) {
		c.Keys = []string{"6e6577", docKeyHex}
		c.Salts = []string{"73616c74", docSaltHex}
	})
	if _, err := r.Parse("/"+docSig+docPath, now); err != nil {
		t.Fatalf("second pair: %v", err)
	}
	if _, err := r.Parse("/"+r.sig.sign(0, docPath)+docPath, now); err != nil {
		t.Fatalf("first pair: %v", err)
	}
}

// TestCollapsedSlashesVerify: a proxy that collapses the "//" of a plain
// source's scheme does not break the signature, which covers the URL as
// signed.
func TestCollapsedSlashesVerify(t *testing.T) {
	p := signed(t, nil)
	path := "/rs:fit:300:0/plain/" + docSourcePlain
	sig := p.sig.sign(0, path)
	collapsed := "/rs:fit:300:0/plain/http:/example.com/images/curiosity.jpg"
	if _, err := p.Parse("/"+sig+collapsed, now); err != nil {
		t.Fatalf("collapsed: %v", err)
	}
}
