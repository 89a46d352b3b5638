package presign

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

// This file is a lean SigV4 query signer for S3 GET, equivalent to the AWS
// SDK's v4.Signer.PresignHTTP with S3's settings (no double path escaping,
// UNSIGNED-PAYLOAD, only the host header signed). FuzzSignMatchesSDK holds
// it to that.

const (
	algorithm       = "AWS4-HMAC-SHA256"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	service         = "s3"
	maxExpires      = 604800 // seconds: SigV4's 7-day limit on X-Amz-Expires
)

// s3Target is where a bucket's objects live, resolved once per bucket.
type s3Target struct {
	origin     string // scheme://host[:port] as in the URL
	hostHeader string // the host header S3 sees: default port stripped
	basePath   string // escaped path before the key: "" or "/bucket"
	region     string // signing region
}

// v4Params is one URL to sign.
type v4Params struct {
	target       *s3Target
	key          string // raw object key
	accessKey    string
	sessionToken string
	signingKey   *[32]byte
	at           time.Time // signing time, UTC, whole seconds
	expires      int64     // seconds
	disposition  string    // response-content-disposition, "" = none
	contentType  string    // response-content-type, "" = none
}

// presignV4 returns the presigned URL for p.
func presignV4(p *v4Params) string {
	// One stack buffer holds, in turn, the canonical request, the string
	// to sign and the URL; it escapes to the heap only for huge inputs.
	var arr [2048]byte
	buf := arr[:0]

	var date [16]byte // 20060102T150405Z
	amzDate := appendAmzDate(date[:0], p.at)
	day := amzDate[:8]

	// Path: basePath joined with "/" + escaped key, as smithyhttp.JoinPath
	// joins the endpoint path and the operation path.
	pathStart := len(buf)
	buf = appendJoinedPath(buf, p.target.basePath, p.key)
	pathEnd := len(buf)

	// Canonical query string: the parameters sorted by encoded name.
	// X-Amz-* sort before response-* (uppercase first), and among
	// themselves in this fixed order.
	queryStart := len(buf)
	buf = append(buf, "X-Amz-Algorithm="+algorithm+"&X-Amz-Credential="...)
	buf = appendQueryEscape(buf, p.accessKey)
	buf = append(buf, "%2F"...)
	buf = append(buf, day...)
	buf = append(buf, "%2F"...)
	buf = appendQueryEscape(buf, p.target.region)
	buf = append(buf, "%2F"+service+"%2Faws4_request&X-Amz-Date="...)
	buf = append(buf, amzDate...)
	buf = append(buf, "&X-Amz-Expires="...)
	buf = strconv.AppendInt(buf, p.expires, 10)
	if p.sessionToken != "" {
		buf = append(buf, "&X-Amz-Security-Token="...)
		buf = appendQueryEscape(buf, p.sessionToken)
	}
	buf = append(buf, "&X-Amz-SignedHeaders=host"...)
	if p.disposition != "" {
		buf = append(buf, "&response-content-disposition="...)
		buf = appendQueryEscape(buf, p.disposition)
	}
	if p.contentType != "" {
		buf = append(buf, "&response-content-type="...)
		buf = appendQueryEscape(buf, p.contentType)
	}
	queryEnd := len(buf)

	// Canonical request, hashed.
	canonStart := len(buf)
	buf = append(buf, "GET\n"...)
	buf = append(buf, buf[pathStart:pathEnd]...)
	buf = append(buf, '\n')
	buf = append(buf, buf[queryStart:queryEnd]...)
	buf = append(buf, "\nhost:"...)
	buf = appendStripSpaces(buf, p.target.hostHeader)
	buf = append(buf, "\n\nhost\n"+unsignedPayload...)
	canonHash := sha256.Sum256(buf[canonStart:])
	buf = buf[:canonStart]

	// String to sign, then the signature.
	stsStart := len(buf)
	buf = append(buf, algorithm+"\n"...)
	buf = append(buf, amzDate...)
	buf = append(buf, '\n')
	buf = appendScope(buf, day, p.target.region)
	buf = append(buf, '\n')
	buf = hex.AppendEncode(buf, canonHash[:])
	sig := hmacSHA256(p.signingKey[:], buf[stsStart:])
	buf = buf[:stsStart]

	// The URL.
	n := len(p.target.origin) + (pathEnd - pathStart) + 1 + (queryEnd - queryStart) + len("&X-Amz-Signature=") + 64
	out := make([]byte, 0, n)
	out = append(out, p.target.origin...)
	out = append(out, buf[pathStart:pathEnd]...)
	out = append(out, '?')
	out = append(out, buf[queryStart:queryEnd]...)
	out = append(out, "&X-Amz-Signature="...)
	out = hex.AppendEncode(out, sig[:])
	return unsafeString(out)
}

// appendAmzDate appends t as 20060102T150405Z without allocating.
func appendAmzDate(b []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	b = append4(b, y)
	b = append2(b, int(mo))
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, h)
	b = append2(b, mi)
	b = append2(b, s)
	return append(b, 'Z')
}

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10%10), byte('0'+v%10)) }

// appendScope appends the credential scope day/region/s3/aws4_request.
func appendScope(b, day []byte, region string) []byte {
	b = append(b, day...)
	b = append(b, '/')
	b = append(b, region...)
	return append(b, "/"+service+"/aws4_request"...)
}

// unreserved marks the bytes SigV4 and S3 leave unescaped: RFC 3986's
// unreserved set.
var unreserved = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['-'], t['.'], t['_'], t['~'] = true, true, true, true
	return t
}()

const upperHex = "0123456789ABCDEF"

// appendQueryEscape escapes s as a SigV4 query component: every byte
// outside the unreserved set as %XX (uppercase), space as %20.
func appendQueryEscape(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved[c] {
			b = append(b, c)
		} else {
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return b
}

// appendPathEscape escapes an object key as S3 expects in the path: like
// a query component, but '/' is kept.
func appendPathEscape(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved[c] || c == '/' {
			b = append(b, c)
		} else {
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return b
}

// appendJoinedPath appends smithyhttp.JoinPath(base, "/"+escape(key)).
func appendJoinedPath(b []byte, base, key string) []byte {
	if base == "" {
		b = append(b, '/')
	} else {
		if base[0] != '/' {
			b = append(b, '/')
		}
		b = append(b, base...)
	}
	// The operation path is "/" + escaped key; JoinPath drops its
	// leading '/' and adds one to base unless base is "/" or ends in '/'.
	if len(b) > 1 && b[len(b)-1] != '/' {
		b = append(b, '/')
	}
	return appendPathEscape(b, key)
}

// appendStripSpaces appends s trimmed of leading and trailing spaces with
// inner runs of spaces collapsed to one (the SDK's StripExcessSpaces).
func appendStripSpaces(b []byte, s string) []byte {
	i, j := 0, len(s)
	for j > 0 && s[j-1] == ' ' {
		j--
	}
	for i < j && s[i] == ' ' {
		i++
	}
	space := false
	for ; i < j; i++ {
		if s[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, s[i])
	}
	return b
}

// hmacSHA256 computes HMAC-SHA256 without allocating (crypto/hmac
// allocates two hash states per call).
func hmacSHA256(key, msg []byte) [32]byte {
	var k [64]byte
	if len(key) > 64 {
		h := sha256.Sum256(key)
		copy(k[:], h[:])
	} else {
		copy(k[:], key)
	}
	var scratch [512]byte
	in := scratch[:0]
	for _, c := range k {
		in = append(in, c^0x36)
	}
	in = append(in, msg...)
	inner := sha256.Sum256(in)
	var outer [64 + 32]byte
	for i, c := range k {
		outer[i] = c ^ 0x5c
	}
	copy(outer[64:], inner[:])
	return sha256.Sum256(outer[:])
}

// deriveSigningKey derives the SigV4 signing key for a secret, day
// (20060102), region and s3.
func deriveSigningKey(secret string, day []byte, region string) [32]byte {
	k := hmacSHA256([]byte("AWS4"+secret), day)
	k = hmacSHA256(k[:], []byte(region))
	k = hmacSHA256(k[:], []byte(service))
	return hmacSHA256(k[:], []byte("aws4_request"))
}

// keyCache holds the signing keys of one set of credentials, one per
// (day, region). When a new day's key is derived, keys older than the day
// before are dropped (the day before stays: requests signed in the last
// window before midnight may still be in flight). It is safe for concurrent
// use.
type keyCache struct {
	secret string
	mu     sync.Mutex
	newest int32 // the latest day a key was derived for
	keys   map[dayRegion]*[32]byte
}

type dayRegion struct {
	day    int32 // yyyymmdd
	region string
}

// get returns the signing key for the day of t (UTC) and region.
func (c *keyCache) get(t time.Time, region string) *[32]byte {
	y, m, d := t.Date()
	day := int32(y*10000 + int(m)*100 + d)
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.keys[dayRegion{day, region}]; ok {
		return k
	}
	if c.keys == nil {
		c.keys = map[dayRegion]*[32]byte{}
	}
	if day > c.newest {
		c.newest = day
		yesterday := t.AddDate(0, 0, -1)
		yy, ym, yd := yesterday.Date()
		keep := int32(yy*10000 + int(ym)*100 + yd)
		for dr := range c.keys {
			if dr.day < keep {
				delete(c.keys, dr)
			}
		}
	}
	var b [16]byte
	k := deriveSigningKey(c.secret, appendAmzDate(b[:0], t)[:8], region)
	c.keys[dayRegion{day, region}] = &k
	return &k
}

// unsafeString returns b as a string without copying; b must never be
// modified afterwards.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
