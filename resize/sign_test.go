package resize

import (
	"bytes"
	"strings"
	"testing"
)

func TestSignVerify(t *testing.T) {
	oldKey := bytes.Repeat([]byte{1}, 32)
	newKey := bytes.Repeat([]byte{2}, 32)
	otherKey := bytes.Repeat([]byte{3}, 32)
	const path = "/img/300x200-cover/photos/a.jpg"
	sig := Sign(oldKey, path)
	if len(sig) != 43 || strings.ContainsAny(sig, "+/=") {
		t.Fatalf("signature %q is not 43 chars of unpadded base64url", sig)
	}
	if Sign(oldKey, path) != sig {
		t.Fatal("Sign is not deterministic")
	}
	// Known-answer so a change of algorithm or encoding is caught.
	if got := Sign([]byte("key"), "The quick brown fox jumps over the lazy dog"); got != "97yD9DBThCSxMpjmqm-xQ-9NWaFJRhdZl0edvC0aPNg" {
		t.Errorf("HMAC-SHA256 known answer = %q", got)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name string
		keys [][]byte
		path string
		sig  string
		want bool
	}{
		{"valid", [][]byte{oldKey}, path, sig, true},
		{"rotation: old key still listed", [][]byte{newKey, oldKey}, path, sig, true},
		{"rotation: new key signs", [][]byte{newKey, oldKey}, path, Sign(newKey, path), true},
		{"old key retired", [][]byte{newKey}, path, sig, false},
		{"wrong key", [][]byte{otherKey}, path, sig, false},
		{"no keys", nil, path, sig, false},
		{"tampered path: size", [][]byte{oldKey}, "/img/3000x2000-cover/photos/a.jpg", sig, false},
		{"tampered path: key", [][]byte{oldKey}, "/img/300x200-cover/photos/b.jpg", sig, false},
		{"tampered sig first char", [][]byte{oldKey}, path, flip(sig, 0), false},
		{"tampered sig last char", [][]byte{oldKey}, path, flip(sig, 42), false},
		{"truncated sig", [][]byte{oldKey}, path, sig[:42], false},
		{"padded sig", [][]byte{oldKey}, path, sig + "=", false},
		{"std alphabet sig", [][]byte{oldKey}, path, strings.NewReplacer("-", "+", "_", "/").Replace(sig), !strings.ContainsAny(sig, "-_")},
		{"empty sig", [][]byte{oldKey}, path, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Verify(tc.keys, tc.path, tc.sig); got != tc.want {
				t.Errorf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

// A signature's last character carries 4 spare bits; only the canonical
// one may verify, or one MAC would have several valid spellings.
func TestVerifyRejectsNonCanonicalSignature(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	for i := 0; i < 50; i++ {
		path := "/img/1x1/" + strings.Repeat("a", i)
		sig := Sign(key, path)
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		valid := 0
		for _, c := range alphabet {
			if Verify([][]byte{key}, path, sig[:42]+string(c)) {
				valid++
			}
		}
		if valid != 1 {
			t.Fatalf("%d spellings of one signature verify", valid)
		}
	}
}
