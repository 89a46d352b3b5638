package imgproxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// signer verifies imgproxy signatures: base64url (unpadded) of the first
// size bytes of HMAC-SHA256(key, salt + path), path being the request path
// after the signature, starting with "/".
type signer struct {
	keys, salts [][]byte
	size        int
}

// sign returns the signature of path under pair i.
func (s *signer) sign(i int, path string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac(i, path))
}

func (s *signer) mac(i int, path string) []byte {
	m := hmac.New(sha256.New, s.keys[i])
	m.Write(s.salts[i])
	m.Write([]byte(path))
	return m.Sum(nil)[:s.size]
}

// verify reports whether sig is path's signature under any key/salt pair.
// Every pair is tried, whatever matched, and each comparison is constant
// time (hmac.Equal), so timing tells neither the MAC nor the pair; a sig
// that is not base64url of the right length is simply invalid.
func (s *signer) verify(sig, path string) bool {
	if base64.RawURLEncoding.EncodedLen(s.size) != len(sig) {
		return false
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || len(got) != s.size {
		return false
	}
	ok := false
	for i := range s.keys {
		if hmac.Equal(s.mac(i, path), got) {
			ok = true
		}
	}
	return ok
}
