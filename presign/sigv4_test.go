package presign

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// fixedClockPresigner is the S3 client's default v4 presigner (as built by
// the s3 package's newDefaultV4Signer: no double path escaping) with the
// signing time pinned, plugged into the S3 presign client. It drops the
// x-id=GetObject query parameter the S3 client adds (an SDK routing hint S3
// ignores, which this package does not send) before signing.
type fixedClockPresigner struct {
	at time.Time
}

func (f fixedClockPresigner) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request,
	payloadHash, service, region string, _ time.Time, optFns ...func(*v4.SignerOptions),
) (string, http.Header, error) {
	q := r.URL.Query()
	q.Del("x-id")
	r.URL.RawQuery = q.Encode()
	s3Signer := v4.NewSigner(func(so *v4.SignerOptions) { so.DisableURIPathEscaping = true })
	return s3Signer.PresignHTTP(ctx, creds, r, payloadHash, service, region, f.at, optFns...)
}

// signCase is one URL to sign both ways.
type signCase struct {
	bucket, key, region, endpoint string
	pathStyle                     bool
	accessKey, secret, token      string
	at                            time.Time
	expires                       int64
	disp, ctype                   string
}

// sdkPresign signs c with the SDK's S3 presign client at a fixed time.
func sdkPresign(c signCase) (string, error) {
	o := s3.Options{
		Region:       c.region,
		UsePathStyle: c.pathStyle,
		Credentials:  credentials.NewStaticCredentialsProvider(c.accessKey, c.secret, c.token),
	}
	if c.endpoint != "" {
		o.BaseEndpoint = aws.String(c.endpoint)
	}
	pc := s3.NewPresignClient(s3.New(o), func(po *s3.PresignOptions) {
		po.Presigner = fixedClockPresigner{at: c.at}
	})
	in := &s3.GetObjectInput{Bucket: &c.bucket, Key: &c.key}
	if c.disp != "" {
		in.ResponseContentDisposition = &c.disp
	}
	if c.ctype != "" {
		in.ResponseContentType = &c.ctype
	}
	out, err := pc.PresignGetObject(context.Background(), in, s3.WithPresignExpires(time.Duration(c.expires)*time.Second))
	if err != nil {
		return "", err
	}
	return out.URL, nil
}

// leanPresign signs c with this package's signer.
func leanPresign(c signCase) (string, error) {
	t, err := resolveTarget(s3.NewDefaultEndpointResolverV2(), c.bucket, c.region, c.endpoint, c.pathStyle)
	if err != nil {
		return "", err
	}
	kc := keyCache{secret: c.secret}
	return presignV4(&v4Params{
		target: t, key: c.key, accessKey: c.accessKey, sessionToken: c.token,
		signingKey: kc.get(c.at, t.region), at: c.at, expires: c.expires,
		disposition: c.disp, contentType: c.ctype,
	}), nil
}

var fuzzEndpoints = []string{
	"",                               // AWS
	"http://127.0.0.1:7070",          // local S3 (IP: always path-style)
	"https://s3.example.com",         // S3-compatible over TLS
	"http://minio.local:80",          // default port, stripped from the host header
	"https://storage.test:8443/base", // endpoint with a path
}

var fuzzRegions = []string{"us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1", "me-central-1"}

var fuzzBuckets = []string{"edge-demo", "my.dotted.bucket", "b12", "a-very-long-bucket-name-with-dashes-0123456789"}

func FuzzSignMatchesSDK(f *testing.F) {
	f.Add("uk/london/map-tiles.zip", "", uint8(0), uint8(0), uint8(0), int64(1700000000), uint32(3660), "", "", "", "secret", false)
	f.Add("a b+c~d/ünï/€.txt", "", uint8(1), uint8(1), uint8(1), int64(1735689599), uint32(604800), `attachment; filename="a b.pdf"`, "application/pdf", "FwoGZXIvYXdzE+/=token", "s", true)
	f.Add("/leading//double/", "", uint8(2), uint8(2), uint8(3), int64(951782400), uint32(1), "inline", "", "", strings.Repeat("k", 100), false)
	f.Add("x?y#z%20&=;:@$,!*'()[]", "", uint8(3), uint8(4), uint8(4), int64(4102444799), uint32(86400), "", "text/plain; charset=utf-8", "", "", true)
	f.Add("key", "Weird_Bucket", uint8(4), uint8(5), uint8(2), int64(0), uint32(60), "", "", "", "x", false)
	f.Add("emoji/😀 \t\n\x00\xff", "other.bucket", uint8(0), uint8(3), uint8(0), int64(1234567890), uint32(900), "", "", " tok  en ", "x", false)
	f.Fuzz(func(t *testing.T, key, bucket string, bucketSel, regionSel, endpointSel uint8, unix int64, expires uint32,
		disp, ctype, token, secret string, pathStyle bool) {
		if bucket == "" {
			bucket = fuzzBuckets[int(bucketSel)%len(fuzzBuckets)]
		}
		region := fuzzRegions[int(regionSel)%len(fuzzRegions)]
		if regionSel >= 128 && bucketSel >= 128 {
			region = bucket // arbitrary region strings too, now and then
		}
		// Years 1970..9999: X-Amz-Date has four year digits.
		const span = 253402300800
		unix %= span
		if unix < 0 {
			unix += span
		}
		c := signCase{
			bucket: bucket, key: key, region: region,
			endpoint: fuzzEndpoints[int(endpointSel)%len(fuzzEndpoints)], pathStyle: pathStyle,
			accessKey: "AKIDEXAMPLE", secret: secret, token: token,
			at: time.Unix(unix, 0).UTC(), expires: int64(expires%maxExpires) + 1,
			disp: disp, ctype: ctype,
		}
		got, err := leanPresign(c)
		if !validBucket(bucket) {
			// Not a bucket name S3 has (the SDK mis-signs some of them).
			if !errors.Is(err, ErrBucket) {
				t.Fatalf("bucket %q: got %v, want ErrBucket", bucket, err)
			}
			return
		}
		want, sdkErr := sdkPresign(c)
		if sdkErr != nil {
			// The SDK refuses empty keys and secrets and invalid
			// bucket/region/endpoint combinations; the lean path must refuse
			// them too, except empty keys and secrets, which Sign and New
			// reject before signing.
			if err == nil && key != "" && secret != "" {
				t.Fatalf("SDK refused %+v (%v) but the lean signer produced %s", c, sdkErr, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("lean signer refused %+v: %v; SDK produced %s", c, err, want)
		}
		if got != want {
			t.Fatalf("URL mismatch for %+v\n got: %s\nwant: %s", c, got, want)
		}
	})
}

func TestKeyEscaping(t *testing.T) {
	tests := []struct {
		name, key, want string
	}{
		{"plain", "uk/london/map-tiles.zip", "uk/london/map-tiles.zip"},
		{"space is %20, not +", "a b", "a%20b"},
		{"plus is escaped", "a+b", "a%2Bb"},
		{"tilde kept", "~user/x", "~user/x"},
		{"slashes kept, doubled too", "a//b/", "a//b/"},
		{"unicode as UTF-8 bytes", "ünï/€", "%C3%BCn%C3%AF/%E2%82%AC"},
		{"reserved escaped", "?#&=%:@", "%3F%23%26%3D%25%3A%40"},
		{"unreserved kept", "AZaz09-._~", "AZaz09-._~"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendPathEscape(nil, tt.key)); got != tt.want {
				t.Errorf("path escape %q = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestHMACMatchesStdlib(t *testing.T) {
	for _, keyLen := range []int{0, 1, 32, 63, 64, 65, 200} {
		for _, msgLen := range []int{0, 10, 447, 448, 1000} {
			key, msg := []byte(strings.Repeat("k", keyLen)), []byte(strings.Repeat("m", msgLen))
			m := hmac.New(sha256.New, key)
			m.Write(msg)
			got := hmacSHA256(key, msg)
			if !hmac.Equal(got[:], m.Sum(nil)) {
				t.Errorf("hmacSHA256 key %d bytes, msg %d bytes differs from crypto/hmac", keyLen, msgLen)
			}
		}
	}
}

func TestHostHeader(t *testing.T) {
	tests := []struct{ scheme, host, want string }{
		{"https", "s3.amazonaws.com", "s3.amazonaws.com"},
		{"https", "s3.amazonaws.com:443", "s3.amazonaws.com"},
		{"http", "127.0.0.1:80", "127.0.0.1"},
		{"http", "127.0.0.1:7070", "127.0.0.1:7070"},
		{"https", "host:80", "host:80"},
		{"https", "[::1]:443", "::1"},
		{"http", "[::1]:8080", "[::1]:8080"},
		{"http", "[::1]", "[::1]"},
	}
	for _, tt := range tests {
		if got := hostHeader(tt.scheme, tt.host); got != tt.want {
			t.Errorf("hostHeader(%q, %q) = %q, want %q", tt.scheme, tt.host, got, tt.want)
		}
	}
}

func TestAmzDate(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 1, 2, 3, 0, time.UTC),
	} {
		if got, want := string(appendAmzDate(nil, tm)), tm.Format("20060102T150405Z"); got != want {
			t.Errorf("appendAmzDate(%s) = %s, want %s", tm, got, want)
		}
	}
}
