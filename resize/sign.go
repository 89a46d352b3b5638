package resize

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// sigLen is the length of a signature: 32 bytes in unpadded base64url.
var sigLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

// sigEncoding rejects non-canonical trailing bits, so each MAC has exactly
// one valid signature string.
var sigEncoding = base64.RawURLEncoding.Strict()

// Sign returns the signature of path (e.g. "/img/300x200-cover/photos/a.jpg")
// under key: HMAC-SHA256, base64url without padding (43 characters).
func Sign(key []byte, path string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(path))
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(m.Sum(sum[:0]))
}

// Verify reports whether sig is a valid signature of path under any of
// keys, so old keys keep verifying during rotation. Comparison is constant
// time (hmac.Equal) for each key; a malformed sig is simply invalid.
func Verify(keys [][]byte, path, sig string) bool {
	if len(sig) != sigLen {
		return false
	}
	var want [sha256.Size]byte
	if n, err := sigEncoding.Decode(want[:], []byte(sig)); err != nil || n != sha256.Size {
		return false
	}
	var sum [sha256.Size]byte
	ok := false
	for _, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(path))
		// Try every key, not just until the first match, so timing does not
		// reveal which key signed.
		if hmac.Equal(m.Sum(sum[:0]), want[:]) {
			ok = true
		}
	}
	return ok
}
