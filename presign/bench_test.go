package presign

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/edgegate/edgegate/store"
)

// All benchmarks sign the same object the same way: a path-style bucket on
// a local endpoint (like the demo), static credentials, one override.

var benchBucket = store.Bucket{Name: "edge-demo", Region: "us-east-1", Endpoint: "http://127.0.0.1:7070", PathStyle: true}

var benchReq = Request{Bucket: "edge-demo", Key: "uk/london/map-tiles.zip", TTL: time.Hour, ContentType: "application/zip"}

func benchSigner(b *testing.B, cfgs ...Config) *Signer {
	var cfg Config
	if len(cfgs) > 0 {
		cfg = cfgs[0]
	}
	s, err := newSigner(buckets(benchBucket), staticProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchCachedSign signs benchReq once, then measures cache hits.
func benchCachedSign(b *testing.B, s *Signer) {
	ctx := context.Background()
	if _, err := s.Sign(ctx, benchReq); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(ctx, benchReq); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignCached is the hot path: the URL was signed earlier in the
// window.
func BenchmarkSignCached(b *testing.B) { benchCachedSign(b, benchSigner(b)) }

// BenchmarkSignCachedMemClock is BenchmarkSignCached with the clock the
// gateway injects (Config.Now reading a time refreshed by a ticker): on
// this VM each time.Now costs ~50 ns, and a cached Sign reads the clock
// twice (signing window, cache expiry).
func BenchmarkSignCachedMemClock(b *testing.B) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	benchCachedSign(b, benchSigner(b, Config{Now: func() time.Time { return time.Unix(0, now.Load()) }}))
}

// BenchmarkSignCachedParallel is the hot path under contention.
func BenchmarkSignCachedParallel(b *testing.B) {
	s := benchSigner(b)
	ctx := context.Background()
	if _, err := s.Sign(ctx, benchReq); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Sign(ctx, benchReq)
		}
	})
}

// BenchmarkSignCold signs with the lean signer, bypassing the URL cache
// (the signing key and the bucket's endpoint are cached, as they are after
// the first request of the day).
func BenchmarkSignCold(b *testing.B) {
	s := benchSigner(b)
	ws := s.windowStart(time.Now())
	if _, err := s.signS3(benchReq, ws); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.signS3(benchReq, ws); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSDKPresign is what this package replaced: the SDK's
// PresignGetObject for the same object (presign client built once).
func BenchmarkSDKPresign(b *testing.B) {
	cli := s3.New(s3.Options{
		Region: benchBucket.Region, BaseEndpoint: aws.String(benchBucket.Endpoint), UsePathStyle: true,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "")),
	})
	pc := s3.NewPresignClient(cli)
	ctx := context.Background()
	in := &s3.GetObjectInput{Bucket: &benchReq.Bucket, Key: &benchReq.Key, ResponseContentType: &benchReq.ContentType}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pc.PresignGetObject(ctx, in, s3.WithPresignExpires(benchReq.TTL)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignCDNCached is the CDN hot path.
func BenchmarkSignCDNCached(b *testing.B) {
	s := benchSigner(b)
	ctx := context.Background()
	req := CDNRequest{Base: "https://cdn.example.com/tiles", Key: "uk/london/map-tiles.zip", TTL: time.Hour}
	if _, err := s.SignCDN(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.SignCDN(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
